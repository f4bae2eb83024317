/** The supervisor console's calls (docs/console-api.md), on top of api.request. */
import { request } from "./api";

export interface PersonRef {
  id: number;
  name: string;
}

export type FlagName =
  "gap" | "unverified" | "hash_mismatch" | "unattached" | "clock_skew" | "late_upload";

export const FLAG_NAMES: FlagName[] = [
  "gap",
  "unverified",
  "hash_mismatch",
  "unattached",
  "clock_skew",
  "late_upload",
];

export interface ConsoleCase {
  id: number;
  number: string;
  title: string;
  current_stage: string;
  major_property: boolean;
  created_at: string;
  officers: PersonRef[];
  counts: Record<string, Record<string, number>>;
  flags: Partial<Record<FlagName, number>>;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  per_page: number;
}

export interface MediaFlag {
  code: string;
  message?: string;
  [more: string]: unknown;
}

export interface MediaSummary {
  id: string;
  kind: string;
  activity: string;
  stage: string;
  attached_stage: string | null;
  captured_at: string;
  duration_s: number | null;
  width: number | null;
  height: number | null;
  uploader: PersonRef | null;
  latitude: number | null;
  longitude: number | null;
  accuracy_m: number | null;
  status: string;
  processing: string;
  flags: MediaFlag[];
  key_evidence?: boolean;
  derivatives: string[];
}

export interface MediaDetail extends MediaSummary {
  case_id: number;
  filename: string;
  claimed_content_type: string;
  detected_content_type: string | null;
  size: number;
  device_sha256: string;
  server_sha256: string | null;
  hashes_match: boolean | null;
  status_message?: string;
  received_at: string;
  stored_at: string | null;
  verified_at: string | null;
  locked_until: string | null;
  device_clock_offset_s: number | null;
  location_status: string | null;
  captured_end_at: string | null;
  device_id: string;
  file_captured_at: string | null;
  key_evidence_reason?: string | null;
  key_evidence_by?: PersonRef | null;
  key_evidence_at?: string | null;
}

export interface Gap {
  code: string;
  stage: string;
  activity: string | null;
  message: string;
}

export interface Timeline {
  case: ConsoleCase & Record<string, unknown>;
  stages: {
    stage: string;
    started_at: string | null;
    ended_at: string | null;
    items: MediaSummary[];
  }[];
  unattached: MediaSummary[];
  credential_events: { at: string; officer: string; action: string }[];
  gaps: Gap[];
}

export interface Bookmark {
  id: number;
  at_s: number;
  note: string;
  author: PersonRef;
  created_at: string;
}

export interface CustodyEntry {
  id: number;
  seq: number;
  at: string;
  actor: string;
  action: string;
  client_addr: string;
  details: Record<string, unknown>;
  entry_hash: string;
}

export type Playable =
  | "proxy"
  | "original"
  | "thumbnail"
  | "preview"
  | "poster"
  | "strip"
  | "waveform"
  | "custody.pdf"
  | "custody.csv";

export interface CaseFilters {
  officer_id?: string;
  from?: string;
  to?: string;
  number?: string;
  stage?: string;
  activity?: string;
  kind?: string;
  flag?: string;
  q?: string;
}

/** `?page=2&number=2026-` from the filters that are set, in a stable order. */
export function caseQuery(filters: CaseFilters, page: number, perPage: number): string {
  const params = new URLSearchParams();
  params.set("page", String(page));
  params.set("per_page", String(perPage));
  for (const [key, value] of Object.entries(filters).sort(([a], [b]) => a.localeCompare(b))) {
    if (typeof value === "string" && value.trim() !== "") params.set(key, value.trim());
  }
  return params.toString();
}

export function listCases(filters: CaseFilters, page: number, perPage: number) {
  return request<Page<ConsoleCase>>("GET", `/console/cases?${caseQuery(filters, page, perPage)}`);
}

export function timeline(caseId: number) {
  return request<Timeline>("GET", `/cases/${caseId}/timeline`);
}

export function media(id: string) {
  return request<MediaDetail>("GET", `/media/${encodeURIComponent(id)}`);
}

export async function playbackUrl(id: string, what: Playable): Promise<string> {
  const data = await request<{ url: string; expires_at: string }>(
    "POST",
    `/media/${encodeURIComponent(id)}/playback-url`,
    { what },
  );
  return data.url;
}

export async function bookmarks(id: string): Promise<Bookmark[]> {
  const data = await request<{ items: Bookmark[] }>(
    "GET",
    `/media/${encodeURIComponent(id)}/bookmarks`,
  );
  return data.items;
}

export function addBookmark(id: string, atS: number, note: string) {
  return request<Bookmark>("POST", `/media/${encodeURIComponent(id)}/bookmarks`, {
    at_s: Math.round(atS * 100) / 100,
    note,
  });
}

export function setKeyEvidence(id: string, key: boolean, reason: string) {
  return request<MediaDetail>("POST", `/media/${encodeURIComponent(id)}/key-evidence`, {
    key,
    reason,
  });
}

export function attach(id: string, stage: string, reason: string) {
  return request<MediaDetail>("POST", `/media/${encodeURIComponent(id)}/attachment`, {
    stage,
    reason,
  });
}

export async function custody(id: string): Promise<CustodyEntry[]> {
  const data = await request<{ entries: CustodyEntry[] }>(
    "GET",
    `/media/${encodeURIComponent(id)}/custody`,
  );
  return data.entries;
}

/** Peaks in 0..1 from the waveform JSON (`{"peaks": [...]}`), clamped; junk becomes 0. */
export function normalizePeaks(data: unknown): number[] {
  const peaks = (data as { peaks?: unknown })?.peaks;
  if (!Array.isArray(peaks)) return [];
  return peaks.map((p) =>
    typeof p === "number" && Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0,
  );
}

/** Tile start times of the pipeline's thumbnail strip: `count` tiles, evenly spaced. */
export function stripTimes(durationS: number, count: number): number[] {
  return Array.from(
    { length: count },
    (_, i) => Math.round(((durationS * (i + 0.5)) / count) * 1000) / 1000,
  );
}
