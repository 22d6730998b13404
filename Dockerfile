# gantry in a container: the single binary on a slim Debian. Chromium (for the cache plugin's
# render service) only with --build-arg WITH_CHROMIUM=true.
#   docker build -t gantry .            docker build --build-arg WITH_CHROMIUM=true -t gantry:chromium .
#   docker run -p 8080:8080 -v gantry-data:/var/lib/gantry -e GANTRY_ADMIN_PASSWORD=... gantry
FROM node:22-bookworm-slim AS build
WORKDIR /src
# Everything first: npm ci runs `prepare` (the dashboard bundle), and Bun's install script.
COPY . .
RUN npm ci --no-audit --no-fund
RUN npm run build:binary

FROM debian:bookworm-slim
ARG WITH_CHROMIUM=false
# tini reaps exited children (model servers, Chromium) when gantry runs as PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && if [ "$WITH_CHROMIUM" = "true" ]; then apt-get install -y --no-install-recommends chromium; fi \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /var/lib/gantry --shell /usr/sbin/nologin gantry
COPY --from=build /src/dist/gantry /usr/local/bin/gantry
USER gantry
WORKDIR /var/lib/gantry
ENV GANTRY_HOST=0.0.0.0 \
    GANTRY_PORT=8080 \
    GANTRY_DATA_DIR=/var/lib/gantry \
    XDG_CACHE_HOME=/var/lib/gantry/.cache
VOLUME ["/var/lib/gantry"]
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/gantry"]
CMD ["serve"]
