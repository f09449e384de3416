# Pocketbus: one static binary (PocketBase + nats-server), data in /pb_data.
# The web app is prebuilt into web/dist and embedded, so no Node stage is needed.
#
#   docker build --build-arg VERSION=0.1.0 -t registry.example.com/pocketbus:0.1.0 .
#   openssl rand -hex 16 > pocketbus.key   # once: 32 characters; keep it
#   docker run -p 8090:8090 -p 4222:4222 -v pocketbus:/pb_data \
#     -e POCKETBUS_ENCRYPTION_KEY="$(cat pocketbus.key)" registry.example.com/pocketbus:0.1.0 \
#     serve --http=0.0.0.0:8090 --dir=/pb_data --nats-listen=0.0.0.0:4222 \
#     --encryptionEnv=POCKETBUS_ENCRYPTION_KEY --nats-advertise=nats://HOST:4222 \
#     --nats-max-memory=512M --nats-max-disk=16G
#
# (every run on that volume needs the same key: it decrypts the settings and
# the operator seeds, and a different one is refused at start). Written and
# reviewed against deploy/kubernetes/pocketbus.yaml, never built here: the
# machines this was written on have no container engine.

# The builder runs on the build machine's platform and cross-compiles
# (CGO_ENABLED=0: the SQLite driver is pure Go).
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
ARG VERSION=0.1.0-dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# .dockerignore keeps pb_data, web/node_modules and .git out.
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/pocketbus/pocketbus/internal/pb.Version=${VERSION}" \
      -o /out/pocketbus ./cmd/pocketbus
# The data dir exists in the image, owned by the nonroot user, so a fresh
# named volume mounted there inherits that owner and is writable (on
# Kubernetes, fsGroup 65532 does the same for the PVC).
RUN mkdir -p /out/pb_data

# distroless "nonroot": no shell, no package manager, user 65532. The root
# filesystem can be mounted read-only (the manifests do): Pocketbus writes
# only to /pb_data and, for large uploads, /tmp.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pocketbus /pocketbus
COPY --from=build --chown=65532:65532 /out/pb_data /pb_data
USER 65532:65532
VOLUME /pb_data
# HTTP (API, dashboard, web app, WebSocket at /nats) and NATS clients. The
# WebSocket listener stays on loopback: it is reached through /nats.
EXPOSE 8090 4222
ENTRYPOINT ["/pocketbus"]
CMD ["serve", "--http=0.0.0.0:8090", "--dir=/pb_data", "--nats-listen=0.0.0.0:4222", "--nats-ws-listen=127.0.0.1:0"]
