# syntax=docker/dockerfile:1
# Latch container image: a static Go binary on distroless.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t latch .
#   docker run --rm latch version
#
# Templates, static files and migrations are embedded in the binary (go:embed), so the
# image holds the binary alone. The image has no shell: run `latch migrate` as its own
# container before `latch serve` (docker-compose.yml does this with a one-shot service).

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first, so this layer stays cached while only the source changes.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO_ENABLED=0: pure-Go static binary (the SQLite driver is modernc.org/sqlite, no cgo).
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
        -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/latch ./cmd/latch

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/latch /usr/local/bin/latch
# Home of the nonroot user: a sqlite:data/latch.db default would land here (mount a volume
# there; docker-compose.yml uses PostgreSQL and runs the root file system read-only).
WORKDIR /home/nonroot
# Numeric, so that runtimes checking "runs as non-root" (Kubernetes runAsNonRoot) can tell:
# 65532 is distroless's nonroot user and group.
USER 65532:65532
ENV LATCH_ADDR=0.0.0.0:8080
EXPOSE 8080
# Liveness: the image has no shell or curl, so the binary checks itself (GET /healthz).
# Balancers check readiness on GET /readyz (deploy/haproxy.cfg).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/latch", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
# SIGTERM (docker stop's default) starts the graceful shutdown: /readyz 503, drain, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/latch"]
CMD ["serve"]
