package sandboxcontainers_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/sandboxcontainers"
)

// Without Docker the harness tests skip, saying why, on a laptop; in CI
// (CI=true) they fail. The test binary runs itself against a Docker socket
// that does not exist.
func TestNoDockerSkipsOutsideCIAndFailsInCI(t *testing.T) {
	if os.Getenv("SANDBOXCONTAINERS_CHILD") != "" {
		t.Skip("child process")
	}
	run := func(ci string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSandboxInContainers$", "-test.v")
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent/docker.sock", "CI="+ci, "SANDBOXCONTAINERS_CHILD=1", "TESTCONTAINERS_RYUK_DISABLED=true")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err != nil || !strings.Contains(out, "--- SKIP: TestSandboxInContainers") || !strings.Contains(out, "Docker is not available") {
		t.Fatalf("without Docker, outside CI: err %v, want a skip that says why:\n%s", err, out)
	}
	out, err = run("true")
	if err == nil || !strings.Contains(out, "--- FAIL: TestSandboxInContainers") || !strings.Contains(out, "Docker is required in CI") {
		t.Fatalf("without Docker, CI=true: err %v, want a failure:\n%s", err, out)
	}
}

// testcontainers-go turns its reaper off only for exactly "true"; anything
// else that means yes would make it pull the reaper image, so New refuses it
// with the reason before touching Docker.
func TestRyukDisabledMustBeExactlyTrue(t *testing.T) {
	for _, v := range []string{"1", "TRUE", "True", "t"} {
		t.Setenv("TESTCONTAINERS_RYUK_DISABLED", v)
		_, err := sandboxcontainers.New(context.Background(), nil)
		if err == nil || !strings.Contains(err.Error(), `exact value "true"`) {
			t.Errorf("TESTCONTAINERS_RYUK_DISABLED=%s: %v, want the exact-value error", v, err)
		}
	}
}

// A missing image is reported with the way to build it, not pulled.
func TestMissingImageSaysHowToBuildIt(t *testing.T) {
	if err := sandboxcontainers.DockerAvailable(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Docker is required in CI: %v", err)
		}
		t.Skipf("Docker is not available here: %v", err)
	}
	_, err := sandboxcontainers.New(context.Background(), &sandboxcontainers.Options{Image: "xaa-sandbox:no-such-tag"})
	if err == nil || !strings.Contains(err.Error(), ".ci/build-image") {
		t.Fatalf("missing image: %v, want a hint to build it", err)
	}
}
