# The sandbox image, built from source: one static binary (the front door,
# which also runs each party alone) on scratch, run as a non-root user.
#   docker build -t xaa-sandbox .
#   docker compose up                 (docker-compose.yml: one container per party)
#   docker run --rm -p 127.0.0.1:7001-7004:7001-7004 xaa-sandbox   (all four in one)
# Works with BuildKit and the classic builder. Dockerfile.prebuilt makes the
# same image from binaries built on the host (.ci/build-image), for machines
# that cannot pull a Go image.

# golang images set GOTOOLCHAIN=local, so this must be go.mod's Go version.
ARG GO_IMAGE=golang:1.26.8-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN mkdir -p /stage/rootfs \
 && go build -trimpath -ldflags="-s -w" -o /stage/rootfs/xaa-sandbox . \
 && sh .ci/image-rootfs /stage /etc/ssl/certs/ca-certificates.crt

FROM scratch
COPY --from=build /stage/rootfs/ /
COPY --from=build --chown=10001:10001 /stage/owned/ /
USER 10001:10001
WORKDIR /data
ENV XAA_DATA_DIR=/data XAA_BIND=0.0.0.0
EXPOSE 7001 7002 7003 7004
ENTRYPOINT ["/xaa-sandbox"]
CMD ["up"]
