# rpcbridge and the sample backends, as static binaries on a minimal base.
#
#   docker build -t rpcbridge .                         the gateway (the last stage)
#   docker build --target people -t rpcbridge-people .  a sample backend: people
#                                                       (gRPC), orders (Thrift), stock
#                                                       (Tars), users (Dubbo), catalog (HTTP)
#
# Without a registry, deploy/compose/local-images.sh builds stand-ins for
# GO_IMAGE and RUNTIME_IMAGE and static binaries on the host, and passes
# PREBUILT (a folder of the build context holding them) so that nothing is
# compiled or downloaded inside the build.
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
# Marks this stage's image, which is left untagged: local-images.sh prunes it.
LABEL org.rpcbridge.stage=build
ARG PREBUILT=
WORKDIR /src
COPY go.mod go.sum ./
RUN [ -n "$PREBUILT" ] || go mod download
COPY . .
RUN set -e; mkdir -p /out; \
    if [ -n "$PREBUILT" ]; then \
        for b in rpcbridge peopled ordersd stockd usersd catalogd; do cp "$PREBUILT/$b" /out/; done; \
    else \
        CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w" -o /out/ \
            ./cmd/rpcbridge ./examples/people/cmd/peopled ./examples/orders/cmd/ordersd \
            ./examples/stock/cmd/stockd ./examples/users/cmd/usersd ./examples/catalog/cmd/catalogd; \
    fi

# Sample backends (see examples/): each listens on every interface.
FROM ${RUNTIME_IMAGE} AS people
COPY --from=build /out/peopled /usr/local/bin/peopled
USER 65532:65532
EXPOSE 50051
ENTRYPOINT ["peopled", "-addr", ":50051"]

FROM ${RUNTIME_IMAGE} AS orders
COPY --from=build /out/ordersd /usr/local/bin/ordersd
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["ordersd", "-addr", ":9090"]

FROM ${RUNTIME_IMAGE} AS stock
COPY --from=build /out/stockd /usr/local/bin/stockd
USER 65532:65532
EXPOSE 17890
ENTRYPOINT ["stockd", "-addr", ":17890"]

FROM ${RUNTIME_IMAGE} AS users
COPY --from=build /out/usersd /usr/local/bin/usersd
USER 65532:65532
EXPOSE 20880
ENTRYPOINT ["usersd"]

FROM ${RUNTIME_IMAGE} AS catalog
COPY --from=build /out/catalogd /usr/local/bin/catalogd
USER 65532:65532
EXPOSE 8081
ENTRYPOINT ["catalogd", "-addr", ":8081"]

# The gateway: data plane on :8080 (-listen overrides server.listen), the
# config at /etc/rpcbridge/gateway.yaml (mount it, or run serve -config-zk
# HOST:PORT). The health check asks the control plane at 127.0.0.1:9901:
# set server.admin to 127.0.0.1:9901, or to :9901 with an admin token to
# publish it.
# SIGTERM drains: /readyz answers 503 and requests in flight get
# server.shutdown_timeout to finish; give the orchestrator's stop grace
# period at least that much.
FROM ${RUNTIME_IMAGE} AS rpcbridge
COPY --from=build /out/rpcbridge /usr/local/bin/rpcbridge
WORKDIR /etc/rpcbridge
USER 65532:65532
EXPOSE 8080 9901
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["rpcbridge", "health", "-admin", "127.0.0.1:9901"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["rpcbridge"]
CMD ["serve", "-c", "/etc/rpcbridge/gateway.yaml", "-listen", ":8080"]
