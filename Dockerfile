# nestsim in a container, for campaigns on Kubernetes (deploy/kubernetes/). Build it from the
# repository root:   docker build -t nestsim:latest .
# The image runs `nestsim` (the entry point) from /opt/nestsim, so the shipped configs resolve as
# configs/NAME.yaml; results go to a mounted volume (/results in the manifests).
FROM node:20-bookworm-slim
WORKDIR /opt/nestsim
# Dependencies first (a layer that changes only with the lock file), then the sources; `npm ci`
# runs the build (the package's prepare script), which needs the development dependencies.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
ENV NODE_ENV=production
ENTRYPOINT ["node", "/opt/nestsim/dist/bin/cli.js"]
CMD ["help"]
