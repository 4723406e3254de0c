// Package sandboxcontainers starts the XAA sandbox in Docker containers for a
// test, in the style of net/http/httptest: the four parties each in its own
// container, on free ports of the host's 127.0.0.1, with the demo world
// seeded, and removed when the test ends. Each party can be stopped, killed,
// restarted or paused, and its logs read, to test how a client copes.
//
//	sb := sandboxcontainers.Start(t, nil)
//	// sb.URLs.MCPResource, sb.Credentials.Agent0AtIdP, sb.Admin.SetFaults(...)
//	sb.Restart(ctx, sandboxclient.Todo0)
//
// The layout is the compose demo's (docker-compose.yml): a holder container
// owns one network namespace and publishes the four ports on 127.0.0.1; the
// parties join it, so every URL is http://localhost:PORT for the test, for a
// browser and inside every party alike. Each party listens on the same port
// inside as outside, so ports are chosen free on the host first.
//
// It uses testcontainers-go with plain GenericContainer requests. Docker must
// run, and the image must exist (.ci/build-image builds it offline; `docker
// build -t xaa-sandbox .` from source) unless Options.BuildContext asks for a
// build. testcontainers-go's reaper (Ryuk) is an image that is pulled on first
// use; where nothing can be pulled set TESTCONTAINERS_RYUK_DISABLED=true
// (exactly "true"): the containers are then removed only by Terminate and the
// test cleanup, not after a crash of the test binary.
//
// Outside CI, Start skips the test when Docker is not available; with CI=true
// it fails it.
package sandboxcontainers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
)

// DefaultImage is the image Start runs unless Options.Image or XAA_IMAGE names another.
const DefaultImage = "xaa-sandbox:latest"

// Options configure the containers; the zero value (or nil) is the demo
// defaults on free ports, from DefaultImage.
type Options struct {
	// Image to run (XAA_IMAGE, else DefaultImage).
	Image string
	// BuildContext, when set, builds Image first from this source directory
	// (the repository root, with its Dockerfile), with BuildArgs (GO_IMAGE,
	// say, where golang images come from a mirror).
	BuildContext string
	BuildArgs    map[string]string
	// Ports on the host's 127.0.0.1 (and inside the containers); zero picks a
	// free port.
	IdPPort, Agent0Port, Todo0Port, MCPPort int
	// Token lifetimes (zero: 5m each): the IdP's ID-JAGs and Todo0's access tokens.
	IDJAGTTL, AccessTokenTTL time.Duration
	// SigningAlg is the IdP's signing algorithm: "RS256" (default) or "ES256".
	SigningAlg string
	// Env adds or overrides environment variables of one party's container
	// (each party's -h lists them: IDP_ADMIN_TOKEN, XAA_LOG_LEVEL, ...).
	Env map[sandboxclient.Party]map[string]string
	// StartTimeout bounds the start of every party (1 minute).
	StartTimeout time.Duration
}

// Sandbox is the running containers.
type Sandbox struct {
	sandboxclient.Config
	// Admin calls the parties' admin APIs: IdP administration, fault switches.
	Admin *sandboxclient.Admin

	image   string
	holder  testcontainers.Container
	mu      sync.Mutex
	parties map[sandboxclient.Party]testcontainers.Container
}

// Start starts the sandbox's containers for the test and removes them with
// t.Cleanup. Without Docker it skips the test, or fails it when the
// environment variable CI is "true".
func Start(t testing.TB, o *Options) *Sandbox {
	t.Helper()
	ctx := context.Background()
	if err := DockerAvailable(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sandboxcontainers: Docker is required in CI (CI=true): %v", err)
		}
		t.Skipf("sandboxcontainers: skipped: Docker is not available here (%v); these tests need a running Docker Engine (with CI=true they fail instead)", err)
	}
	s, err := New(ctx, o)
	if s != nil {
		t.Cleanup(func() {
			if err := s.Terminate(context.Background()); err != nil {
				t.Errorf("sandboxcontainers: terminate: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("sandboxcontainers: %v", err)
	}
	return s
}

// DockerAvailable reports why Docker cannot be used, or nil. A DOCKER_HOST
// that is set must answer: testcontainers-go would otherwise fall back to
// the default socket, a different engine than the one asked for.
func DockerAvailable(ctx context.Context) (err error) {
	defer func() {
		// testcontainers-go panics on some broken Docker configurations.
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	if host := os.Getenv("DOCKER_HOST"); host != "" {
		cli, err := client.New(client.FromEnv)
		if err != nil {
			return fmt.Errorf("DOCKER_HOST=%s: %w", host, err)
		}
		defer cli.Close()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := cli.Ping(pctx, client.PingOptions{}); err != nil {
			return fmt.Errorf("DOCKER_HOST=%s: %w", host, err)
		}
	}
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Health(ctx)
}

// New starts the containers outside a test's lifetime (in TestMain, say);
// the caller must Terminate them. On error, the Sandbox returned (when not
// nil) holds what did start, for Terminate.
func New(ctx context.Context, o *Options) (*Sandbox, error) {
	opts := Options{}
	if o != nil {
		opts = *o
	}
	if err := ryukCheck(); err != nil {
		return nil, err
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = time.Minute
	}
	image := opts.Image
	if image == "" {
		image = os.Getenv("XAA_IMAGE")
	}
	if image == "" {
		image = DefaultImage
	}
	ports := []*int{&opts.IdPPort, &opts.Agent0Port, &opts.Todo0Port, &opts.MCPPort}
	if err := freePorts(ports); err != nil {
		return nil, err
	}
	url := func(p int) string { return "http://localhost:" + strconv.Itoa(p) }
	s := &Sandbox{image: image, parties: map[sandboxclient.Party]testcontainers.Container{}}
	s.Config = sandboxclient.Config{
		URLs:        sandboxclient.NewURLs(url(opts.IdPPort), url(opts.Agent0Port), url(opts.Todo0Port), url(opts.MCPPort)),
		Credentials: sandboxclient.DemoCredentials(),
	}
	if tok := opts.Env[sandboxclient.IdP]["IDP_ADMIN_TOKEN"]; tok != "" {
		s.Credentials.AdminTokens.IdP = tok
	}
	if tok := opts.Env[sandboxclient.Todo0]["TODO0_ADMIN_TOKEN"]; tok != "" {
		s.Credentials.AdminTokens.Todo0 = tok
	}
	if tok := opts.Env[sandboxclient.MCP]["TODO0_MCP_ADMIN_TOKEN"]; tok != "" {
		s.Credentials.AdminTokens.MCP = tok
	}
	s.Admin = sandboxclient.NewAdmin(s.Config)

	// The holder: owns the namespace, publishes the ports, builds the image
	// when asked.
	req := testcontainers.ContainerRequest{
		Image: image,
		Cmd:   []string{"hold"},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{}
			for _, p := range ports {
				hc.PortBindings[network.MustParsePort(strconv.Itoa(*p)+"/tcp")] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(*p)}}
			}
		},
		Labels: map[string]string{"org.xaa-sandbox.role": "holder"},
	}
	for _, p := range ports {
		req.ExposedPorts = append(req.ExposedPorts, strconv.Itoa(*p)+"/tcp")
	}
	if opts.BuildContext != "" {
		repo, tag := splitImage(image)
		req.Image = ""
		req.FromDockerfile = testcontainers.FromDockerfile{Context: opts.BuildContext, Repo: repo, Tag: tag, KeepImage: true, BuildArgs: map[string]*string{}}
		for k, v := range opts.BuildArgs {
			req.FromDockerfile.BuildArgs[k] = &v
		}
	} else if err := imagePresent(ctx, image); err != nil {
		return nil, err
	}
	holder, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if holder != nil {
		s.holder = holder
	}
	if err != nil {
		return s, fmt.Errorf("holder container: %w", err)
	}

	u := s.URLs
	common := map[string]string{
		"IDP_PUBLIC_URL":       u.IdP,
		"AGENT0_PUBLIC_URL":    u.Agent0,
		"TODO0_PUBLIC_URL":     u.Todo0,
		"TODO0_MCP_PUBLIC_URL": u.MCP,
	}
	env := map[sandboxclient.Party]map[string]string{
		sandboxclient.IdP: {
			"IDP_ADDR": ":" + strconv.Itoa(opts.IdPPort), "IDP_DATA_DIR": "/data",
			"IDP_SIGNING_ALG": opts.SigningAlg, "IDP_ID_JAG_TTL": duration(opts.IDJAGTTL),
		},
		sandboxclient.Todo0: {
			"TODO0_ADDR": ":" + strconv.Itoa(opts.Todo0Port), "TODO0_DATA_DIR": "/data",
			"TODO0_MCP_RESOURCE": u.MCPResource, "TODO0_AGENT0_JWKS_URI": u.Agent0 + "/.well-known/jwks.json",
			"TODO0_ACCESS_TOKEN_TTL": duration(opts.AccessTokenTTL),
		},
		sandboxclient.MCP: {"TODO0_MCP_ADDR": ":" + strconv.Itoa(opts.MCPPort)},
		sandboxclient.Agent0: {
			"AGENT0_ADDR": ":" + strconv.Itoa(opts.Agent0Port), "AGENT0_DATA_DIR": "/data", "TODO0_MCP_URL": u.MCPResource,
		},
	}
	for p, e := range env {
		for k, v := range common {
			e[k] = v
		}
		for k, v := range opts.Env[p] {
			e[k] = v
		}
		for k, v := range e {
			if v == "" {
				delete(e, k) // the party's default
			}
		}
	}

	// Agent0 last, as in docker-compose.yml: the others do not need each
	// other to start.
	first := []sandboxclient.Party{sandboxclient.IdP, sandboxclient.Todo0, sandboxclient.MCP}
	errs := make([]error, len(first))
	var wg sync.WaitGroup
	for i, p := range first {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.startParty(ctx, p, env[p], opts.StartTimeout)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	if err := s.startParty(ctx, sandboxclient.Agent0, env[sandboxclient.Agent0], opts.StartTimeout); err != nil {
		return s, err
	}
	return s, nil
}

// startParty creates and starts one party's container in the holder's
// namespace, and waits until its healthcheck passes.
func (s *Sandbox) startParty(ctx context.Context, p sandboxclient.Party, env map[string]string, timeout time.Duration) error {
	holderID := s.holder.GetContainerID()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:  s.image,
			Cmd:    []string{string(p)},
			Env:    env,
			Labels: map[string]string{"org.xaa-sandbox.role": string(p)},
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.NetworkMode = container.NetworkMode("container:" + holderID)
			},
			WaitingFor: healthy(p, timeout),
		},
		Started: true,
	})
	if c != nil {
		s.mu.Lock()
		s.parties[p] = c
		s.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("%s container: %w%s", p, err, s.logTail(ctx, p))
	}
	return nil
}

// healthy waits for the party's own healthcheck (the front door's
// `healthcheck` subcommand, as in docker-compose.yml) to pass.
func healthy(p sandboxclient.Party, timeout time.Duration) wait.Strategy {
	return wait.ForExec([]string{"/xaa-sandbox", "healthcheck", "-timeout", "1s", string(p)}).
		WithPollInterval(100 * time.Millisecond).WithStartupTimeout(timeout)
}

func (s *Sandbox) party(p sandboxclient.Party) (testcontainers.Container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.parties[p]
	if !ok {
		return nil, fmt.Errorf("sandboxcontainers: no party %q (idp, agent0, todo0, todo0-mcp)", p)
	}
	return c, nil
}

// ContainerID returns the Docker id of party p's container ("" if unknown).
func (s *Sandbox) ContainerID(p sandboxclient.Party) string {
	c, err := s.party(p)
	if err != nil {
		return ""
	}
	return c.GetContainerID()
}

// Stop stops party p (SIGTERM, then SIGKILL after 10s); its data stays.
func (s *Sandbox) Stop(ctx context.Context, p sandboxclient.Party) error {
	c, err := s.party(p)
	if err != nil {
		return err
	}
	timeout := 10 * time.Second
	return c.Stop(ctx, &timeout)
}

// Kill kills party p with SIGKILL, as a crash would; its data stays.
func (s *Sandbox) Kill(ctx context.Context, p sandboxclient.Party) error {
	return s.docker(ctx, p, func(cli *testcontainers.DockerClient, id string) error {
		_, err := cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"})
		return err
	})
}

// Start starts a stopped or killed party p again on its data, and waits
// until it is healthy.
func (s *Sandbox) Start(ctx context.Context, p sandboxclient.Party) error {
	c, err := s.party(p)
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("%s: %w%s", p, err, s.logTail(ctx, p))
	}
	return nil
}

// Restart stops party p and starts it again on the same data (keys, users,
// todos), waiting until it is healthy.
func (s *Sandbox) Restart(ctx context.Context, p sandboxclient.Party) error {
	if err := s.Stop(ctx, p); err != nil {
		return err
	}
	return s.Start(ctx, p)
}

// Pause freezes party p (its connections hang, as with a stalled server)
// until Unpause.
func (s *Sandbox) Pause(ctx context.Context, p sandboxclient.Party) error {
	return s.docker(ctx, p, func(cli *testcontainers.DockerClient, id string) error {
		_, err := cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
		return err
	})
}

// Unpause undoes Pause.
func (s *Sandbox) Unpause(ctx context.Context, p sandboxclient.Party) error {
	return s.docker(ctx, p, func(cli *testcontainers.DockerClient, id string) error {
		_, err := cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
		return err
	})
}

func (s *Sandbox) docker(ctx context.Context, p sandboxclient.Party, f func(*testcontainers.DockerClient, string) error) error {
	c, err := s.party(p)
	if err != nil {
		return err
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := f(cli, c.GetContainerID()); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// Logs returns everything party p has written to stdout and stderr (its
// request log with XAA_LOG_LEVEL=debug in Options.Env).
func (s *Sandbox) Logs(ctx context.Context, p sandboxclient.Party) (string, error) {
	c, err := s.party(p)
	if err != nil {
		return "", err
	}
	rc, err := c.Logs(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

// logTail is the end of a party's log, to explain why it did not start.
func (s *Sandbox) logTail(ctx context.Context, p sandboxclient.Party) string {
	logs, err := s.Logs(ctx, p)
	if err != nil || logs == "" {
		return ""
	}
	if len(logs) > 2000 {
		logs = "..." + logs[len(logs)-2000:]
	}
	return "\n" + string(p) + " logs:\n" + logs
}

// Terminate removes every container (parties first, then the holder) and
// their data. Later calls do nothing.
func (s *Sandbox) Terminate(ctx context.Context) error {
	s.mu.Lock()
	parties, holder := s.parties, s.holder
	s.parties, s.holder = map[sandboxclient.Party]testcontainers.Container{}, nil
	s.mu.Unlock()
	var errs []error
	for _, c := range parties {
		errs = append(errs, c.Terminate(ctx))
	}
	if holder != nil {
		errs = append(errs, holder.Terminate(ctx))
	}
	return errors.Join(errs...)
}

// ryukCheck explains the one setting testcontainers-go reads strictly: its
// reaper is off only for TESTCONTAINERS_RYUK_DISABLED=true, exactly.
func ryukCheck() error {
	v, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED")
	if !ok || v == "true" || v == "false" || v == "" {
		return nil
	}
	if b, err := strconv.ParseBool(v); err == nil && b {
		return fmt.Errorf("TESTCONTAINERS_RYUK_DISABLED=%q: testcontainers-go disables its reaper only for the exact value \"true\", and would try to pull the reaper image", v)
	}
	return nil
}

// imagePresent fails early, with the way out, when the image is missing:
// testcontainers-go would try to pull it.
func imagePresent(ctx context.Context, image string) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := cli.ImageInspect(ctx, image); err != nil {
		return fmt.Errorf("image %s is not present (%v): build it with .ci/build-image (offline) or `docker build -t %s .` at the repository root, or set Options.BuildContext", image, err, image)
	}
	return nil
}

// freePorts replaces each zero port with a port free on 127.0.0.1 now.
// Another process could take it before the holder does; then the start
// fails with "port is already allocated".
func freePorts(ports []*int) error {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for _, p := range ports {
		if *p != 0 {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		*p = ln.Addr().(*net.TCPAddr).Port
	}
	return nil
}

func splitImage(image string) (repo, tag string) {
	for i := len(image) - 1; i >= 0 && image[i] != '/'; i-- {
		if image[i] == ':' {
			return image[:i], image[i+1:]
		}
	}
	return image, "latest"
}

func duration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
