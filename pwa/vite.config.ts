import { defineConfig } from "vite";
import { VitePWA } from "vite-plugin-pwa";

export default defineConfig({
  build: { target: "es2020", sourcemap: false },
  plugins: [
    VitePWA({
      // Our own service worker (src/sw.ts): listeners only, precache + SPA fallback, no /api caching.
      strategies: "injectManifest",
      srcDir: "src",
      filename: "sw.ts",
      // A new version waits until the officer accepts it (never skipWaiting silently mid-recording).
      registerType: "prompt",
      injectRegister: false,
      injectManifest: { globPatterns: ["**/*.{js,css,html,png,svg,wasm}"] },
      manifest: {
        name: "执法记录 Fieldtrace",
        short_name: "执法记录",
        description: "行政执法全过程记录：现场拍照、录像、录音并上传",
        lang: "zh-CN",
        start_url: "/",
        scope: "/",
        display: "standalone",
        orientation: "portrait",
        background_color: "#ffffff",
        theme_color: "#0b3d91",
        icons: [
          { src: "/icon-192.png", sizes: "192x192", type: "image/png" },
          { src: "/icon-512.png", sizes: "512x512", type: "image/png" },
          { src: "/icon-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      },
    }),
  ],
});
