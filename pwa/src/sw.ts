/// <reference lib="webworker" />
/**
 * Service worker: event listeners only. The app shell is precached (one versioned cache,
 * outdated ones removed); navigations fall back to index.html; nothing under /api/ or
 * /public/ is ever cached (evidence and credentials go to the network, always). Background
 * Sync uploads the queue when no page of the app is in front (`background-upload.ts`).
 */
import {
  cleanupOutdatedCaches,
  createHandlerBoundToURL,
  precacheAndRoute,
} from "workbox-precaching";
import { NavigationRoute, registerRoute } from "workbox-routing";
import { uploadQueueInWorker } from "./background-upload";
import { SYNC_TAG } from "./upload-rules";

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<unknown> };

/** Background Sync's event (not in TypeScript's WebWorker lib). */
interface SyncEvent extends ExtendableEvent {
  readonly tag: string;
  readonly lastChance: boolean;
}

const NEVER_CACHED = [/^\/api\//, /^\/public\//, /^\/healthz/, /^\/readyz/];
/** Chromium ends a sync event after 3 minutes: stop sending well before, so every entry's
 * state is written back and the bytes already sent stay resumable. */
const SYNC_BUDGET_MS = 150_000;
/** A page that is closing or reloading registers the sync as it goes: look twice, this far
 * apart, that no page of the app is in front before the worker takes over. */
const PAGE_LOOKS_MS = [3_000, 2_000];

precacheAndRoute(self.__WB_MANIFEST as Parameters<typeof precacheAndRoute>[0]);
cleanupOutdatedCaches();
registerRoute(
  new NavigationRoute(createHandlerBoundToURL("index.html"), { denylist: NEVER_CACHED }),
);

// Updates wait for the page: it asks, after the officer accepted, never during a recording.
self.addEventListener("message", (event) => {
  if (event.data?.type === "SKIP_WAITING") void self.skipWaiting();
});

// Background Sync (the page registers it while items wait): upload here unless a page is in
// front, which runs the queue itself. A failure makes the browser try again with back-off.
self.addEventListener("sync", (event) => {
  const sync = event as SyncEvent;
  if (sync.tag !== SYNC_TAG) return;
  sync.waitUntil(uploadUnlessAPageDoes());
});

async function uploadUnlessAPageDoes(): Promise<void> {
  const deadline = Date.now() + SYNC_BUDGET_MS;
  // A page in front runs the queue itself (tus-js-client, live progress) and registers the
  // sync again when it is hidden or closed. The event is not held open meanwhile: a sync
  // registered while one is firing would otherwise be retried after a back-off of minutes
  // rather than when the network returns.
  for (const wait of PAGE_LOOKS_MS) {
    await sleep(wait);
    if (await pageInFront()) return;
  }
  const result = await uploadQueueInWorker({
    origin: self.location.origin,
    deadline,
    onChange: tellPages,
  });
  tellPages();
  if (result.retry) {
    throw new Error(`${result.waiting} item(s) still waiting for the server (${result.reason})`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function pageInFront(): Promise<boolean> {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  return windows.some((page) => page.visibilityState === "visible");
}

/** Open pages (e.g. one in the background) redraw their queue from IndexedDB. */
function tellPages(): void {
  void self.clients
    .matchAll({ type: "window", includeUncontrolled: true })
    .then((pages) => pages.forEach((page) => page.postMessage({ type: "queue-changed" })));
}
