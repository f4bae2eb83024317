/// <reference lib="webworker" />
/**
 * Service worker: event listeners only. The app shell is precached (one versioned cache,
 * outdated ones removed); navigations fall back to index.html; nothing under /api/ or
 * /public/ is ever cached (evidence and credentials go to the network, always).
 */
import {
  cleanupOutdatedCaches,
  createHandlerBoundToURL,
  precacheAndRoute,
} from "workbox-precaching";
import { NavigationRoute, registerRoute } from "workbox-routing";

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<unknown> };

const NEVER_CACHED = [/^\/api\//, /^\/public\//, /^\/healthz/, /^\/readyz/];
const SYNC_TAG = "fieldtrace-upload";

precacheAndRoute(self.__WB_MANIFEST as Parameters<typeof precacheAndRoute>[0]);
cleanupOutdatedCaches();
registerRoute(
  new NavigationRoute(createHandlerBoundToURL("index.html"), { denylist: NEVER_CACHED }),
);

// Updates wait for the page: it asks, after the officer accepted, never during a recording.
self.addEventListener("message", (event) => {
  if (event.data?.type === "SKIP_WAITING") void self.skipWaiting();
});

// Background Sync: wake any open page to replay its upload queue (tus runs in the page).
self.addEventListener("sync", (event) => {
  const sync = event as Event & { tag: string; waitUntil(p: Promise<unknown>): void };
  if (sync.tag !== SYNC_TAG) return;
  sync.waitUntil(
    self.clients
      .matchAll({ type: "window", includeUncontrolled: true })
      .then((clients) => clients.forEach((c) => c.postMessage({ type: "replay-queue" }))),
  );
});
