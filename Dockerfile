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
# Writable home of the nonroot user: a sqlite:data/latch.db default would land here.
WORKDIR /home/nonroot
USER nonroot:nonroot
ENV LATCH_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/latch"]
CMD ["serve"]
