FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --include=dev --no-audit --no-fund
COPY . .
RUN npm run generate
EXPOSE 4000
USER node
CMD ["npx", "tsx", "src/main.ts"]
