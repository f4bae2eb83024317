/** The supervisor console's calls (docs/console-api.md), on top of api.request. */
import { request } from "./api";
import type { Completeness } from "./api";
import type { FileLocation } from "./map";

export interface PersonRef {
  id: number;
  name: string;
}

export type FlagName =
  | "gap"
  | "unverified"
  | "hash_mismatch"
  | "unattached"
  | "clock_skew"
  | "late_upload"
  | "review_overdue"
  | "override";

export const FLAG_NAMES: FlagName[] = [
  "gap",
  "unverified",
  "hash_mismatch",
  "unattached",
  "clock_skew",
  "late_upload",
  "review_overdue",
  "override",
];

/** Flags that are a state of the case (yes/no) rather than a number of items. */
export const BOOLEAN_FLAGS: FlagName[] = ["review_overdue"];

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
  /** The flag in words (media_pipeline/flag_words.py): shown instead of the code. */
  label?: { zh: string; en: string };
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
  /** `ok`, `refused` or `unavailable`; only where the server sends it (GET /media/<id>). */
  location_status?: string | null;
  case_id?: number;
  captured_at_offset_min?: number | null;
}

/** How the app took a photo, as the server kept it (server/services/capture_info.py). */
export interface CaptureInfoKept {
  method?: "image_capture" | "video_frame";
  width?: number;
  height?: number;
  camera?: string;
  facing?: string;
  zoom?: number;
  stream_max?: { width: number; height: number };
}

export interface MediaDetail extends MediaSummary {
  /** How the app took it; null for a picked file or an older app. */
  capture?: CaptureInfoKept | null;
  /** What the pipeline read from the file; `location`: its own position next to the phone's. */
  probe?: { location?: FileLocation } | null;
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
  message_en?: string;
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
  /** The action and its details in words (server/services/audit_words.py). */
  action_label?: { zh: string; en: string };
  details_text?: { zh: string; en: string };
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

// --- legal review (法制审核), docs/case-workflow.md ---------------------------------------------

export type ReviewStatus = "submitted" | "agreed" | "returned" | "transfer";
export type ReviewOutcome = "agree" | "returned" | "transfer";

export interface ChecklistAnswer {
  item: string;
  passed: boolean;
  note: string;
}

export interface PackageDocument {
  id: string;
  type: string;
  number: string | null;
  version: number;
  status: string;
  sha256: string | null;
}

export interface PackageMedia {
  id: string;
  kind: string;
  stage: string | null;
  activity: string | null;
  sha256: string | null;
  status: string;
}

export interface CredentialDisplay {
  at: string;
  officer: string;
  officer_id?: number;
  credential_id?: number;
  number?: string;
  action?: string;
}

/** What was frozen when the round was submitted. */
export interface ReviewPackage {
  report: string;
  decision_draft: DecisionDraft;
  documents: PackageDocument[];
  media?: PackageMedia[];
  completeness: Completeness;
  credential_displays: CredentialDisplay[];
  major_items: string[];
  /** The operative content of the decision documents drafted by submission (binding). */
  decision_documents?: FrozenDecision[];
}

/** One decision document as frozen in a round's package. */
export interface FrozenDecision {
  id: string;
  series_id: string;
  type: string;
  version: number;
  status: string;
  content_sha256: string;
  fields: Record<string, unknown>;
}

export interface DecisionDraft {
  penalties?: { kind: string; amount?: number | null; description?: string }[];
  summary?: string;
  legal_basis?: string;
  withhold_reason?: string | null;
}

export interface Extension {
  reason: string;
  requested_by: number;
  requested_at: string;
  approved: boolean;
  approved_by?: number;
  approved_at?: string;
}

export interface Disagreement {
  reason: string;
  by: number;
  at: string;
  resolution?: "uphold_opinion" | "accept_objection";
  note?: string;
  resolved_by?: number;
  resolved_at?: string;
}

export interface MaterialsRequest {
  note: string;
  requested_at: string;
  due_on: string;
  by: number;
}

export interface LegalReview {
  id: number;
  /** Set when the deadline reaches a year with no holiday notice loaded: only an estimate. */
  due_estimated?: boolean;
  due_note?: { zh: string; en: string } | null;
  case_id: number;
  round: number;
  status: ReviewStatus | string;
  report: string;
  decision_draft: DecisionDraft;
  /** Left out of the queue (`GET /legal-reviews`). */
  package?: ReviewPackage;
  submitted_by_id: number;
  submitted_at: string;
  due_on: string;
  overdue: boolean;
  extension: Extension | null;
  materials_requests: MaterialsRequest[];
  reviewer_id: number | null;
  checklist: (ChecklistAnswer & { label?: string })[] | null;
  opinion: string | null;
  decided_at: string | null;
  opinion_document_id: string | null;
  disagreement: Disagreement | null;
}

export interface OpinionBody {
  outcome: ReviewOutcome;
  checklist: ChecklistAnswer[];
  opinion: string;
  /** `data:image/png;base64,…` from the on-screen pad. */
  signature: string;
}

/** `GET /legal-reviews?status=&overdue=1` (legal, supervisor, leader): the unit's rounds. */
export async function reviewQueue(
  filters: { status?: string; overdue?: boolean } = {},
): Promise<LegalReview[]> {
  const params = new URLSearchParams();
  if (filters.status) params.set("status", filters.status);
  if (filters.overdue) params.set("overdue", "1");
  const query = params.toString();
  const data = await request<{ items: LegalReview[] }>(
    "GET",
    `/legal-reviews${query ? `?${query}` : ""}`,
  );
  return data.items;
}

export async function caseReviews(caseId: number): Promise<LegalReview[]> {
  return (await request<{ items: LegalReview[] }>("GET", `/cases/${caseId}/legal-reviews`)).items;
}

export function review(id: number) {
  return request<LegalReview>("GET", `/legal-reviews/${id}`);
}

export function giveOpinion(id: number, body: OpinionBody) {
  return request<LegalReview>("POST", `/legal-reviews/${id}/opinion`, body);
}

export function requestMaterials(id: number, note: string) {
  return request<LegalReview>("POST", `/legal-reviews/${id}/materials`, { note });
}

export function requestExtension(id: number, reason: string) {
  return request<LegalReview>("POST", `/legal-reviews/${id}/extension`, { reason });
}

export function approveExtension(id: number) {
  return request<LegalReview>("POST", `/legal-reviews/${id}/extension/approve`);
}

export function disagree(id: number, reason: string) {
  return request<LegalReview>("POST", `/legal-reviews/${id}/disagreement`, { reason });
}

export function resolveDisagreement(
  id: number,
  resolution: "uphold_opinion" | "accept_objection",
  note: string,
) {
  return request<LegalReview>("POST", `/legal-reviews/${id}/disagreement/resolve`, {
    resolution,
    note,
  });
}

/** Rounds by due date (overdue ones come first that way), then by id. */
export function byDueDate<T extends Pick<LegalReview, "due_on" | "id">>(items: T[]): T[] {
  return [...items].sort((a, b) => a.due_on.localeCompare(b.due_on) || a.id - b.id);
}

/** Number and title of the unit's cases by id, for lists that carry only `case_id`. */
export async function caseIndex(
  filters: CaseFilters = {},
): Promise<Map<number, Pick<ConsoleCase, "id" | "number" | "title" | "current_stage">>> {
  const page = await listCases(filters, 1, 200);
  return new Map(page.items.map((c) => [c.id, c]));
}

/** `GET /cases/<id>` (audited as a view of the case). */
export function getCase(id: number) {
  return request<ConsoleCase & Record<string, unknown>>("GET", `/cases/${id}`);
}

// --- the legal review binds the decision -------------------------------------------------------

/** One operative field that differs from what the agreed round reviewed. */
export interface ReviewDifference {
  field: string;
  label: { zh: string; en: string };
  reviewed: unknown;
  now: unknown;
  /** Set when the round's draft did not state the field at all. */
  reviewed_note?: { zh: string; en: string };
}

/** `GET /documents/<id>/review-match`: the document as read, and how it stands to the review. */
export interface ReviewMatch {
  document_id: string;
  type: string;
  version: number;
  status: string;
  fields: Record<string, unknown>;
  content_sha256: string;
  bound: boolean;
  consistent: boolean;
  state: "not_needed" | "consistent" | "pending" | "differs";
  review_id: number | null;
  round: number | null;
  review_status: string | null;
  reviewed_source: "document" | "draft" | null;
  differences: ReviewDifference[];
  resubmit_url: string | null;
}

export function reviewMatch(docId: string): Promise<ReviewMatch> {
  return request<ReviewMatch>("GET", `/documents/${docId}/review-match`);
}

/** A draft waiting for the leader's signature (`GET /documents/awaiting-signature`). */
export interface AwaitingSignature {
  id: string;
  type: string;
  title: { zh: string; en: string };
  version: number;
  status: string;
  number: string | null;
  created_at: string;
  case: { id: number; number: string; title: string; current_stage: string };
  bound: boolean;
  consistent: boolean;
  review_state: "not_needed" | "consistent" | "pending" | "differs";
}

export async function awaitingSignature(): Promise<AwaitingSignature[]> {
  return (await request<{ items: AwaitingSignature[] }>("GET", "/documents/awaiting-signature"))
    .items;
}

/** A new legal-review round of the case for a changed decision (`POST /cases/<id>/legal-reviews`). */
export function resubmitForReview(
  caseId: number,
  report: string,
  decisionDraft: Record<string, unknown>,
): Promise<LegalReview> {
  return request<LegalReview>("POST", `/cases/${caseId}/legal-reviews`, {
    report,
    decision_draft: decisionDraft,
  });
}
