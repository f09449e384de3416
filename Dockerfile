# Pocketbus: one static binary (PocketBase + nats-server), data in /pb_data.
# The web app is prebuilt into web/dist and embedded, so no Node stage is needed.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/pocketbus ./cmd/pocketbus
# The data dir exists in the image, owned by the nonroot user, so a fresh
# named volume mounted there inherits that owner and is writable.
RUN mkdir -p /out/pb_data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pocketbus /pocketbus
COPY --from=build --chown=65532:65532 /out/pb_data /pb_data
VOLUME /pb_data
# HTTP (API, dashboard, web app, WebSocket at /nats) and NATS clients.
EXPOSE 8090 4222
ENTRYPOINT ["/pocketbus"]
CMD ["serve", "--http=0.0.0.0:8090", "--dir=/pb_data", "--nats-listen=0.0.0.0:4222", "--nats-ws-listen=127.0.0.1:0"]
