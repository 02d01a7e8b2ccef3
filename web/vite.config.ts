/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// The app is served by Puente itself (PUENTE_WEB_DIR=web/dist). `npm run dev` proxies the
// API and the WebSocket to a Puente on :8080 (scripts/dev).
const target = process.env.PUENTE_URL ?? 'http://localhost:8080';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
    // Inline nothing: the Content-Security-Policy forbids data: scripts and inline styles.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      '/api': { target, ws: true, changeOrigin: false },
      '/docs': { target },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
  },
});
