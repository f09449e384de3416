# Pocketbus: one static binary (PocketBase + nats-server), data in /pb_data.
# The web app is prebuilt into web/dist and embedded, so no Node stage is needed.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/pocketbus ./cmd/pocketbus

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pocketbus /pocketbus
VOLUME /pb_data
# HTTP (API, dashboard, web app, WebSocket at /nats) and NATS clients.
EXPOSE 8090 4222
ENTRYPOINT ["/pocketbus"]
CMD ["serve", "--http=0.0.0.0:8090", "--dir=/pb_data", "--nats-listen=0.0.0.0:4222", "--nats-ws-listen=127.0.0.1:0"]
