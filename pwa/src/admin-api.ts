/** The admin's calls: 行政执法公示 content and decisions (server/api/disclosure.py), and the
 * yearly report (server/api/reports.py). */
import { ApiError, request } from "./api";

export type ContentKind =
  "unit_info" | "power_list" | "random_inspection_list" | "procedures" | "remedies";

export const CONTENT_KINDS: ContentKind[] = [
  "unit_info",
  "power_list",
  "random_inspection_list",
  "procedures",
  "remedies",
];

export interface PublicContent {
  id: number;
  kind: ContentKind;
  version: number;
  content: Record<string, unknown>;
  created_by: number | null;
  created_at: string;
}

/** Where the scanner found personal data: field, offsets, line/column and a masked excerpt. */
export interface Hit {
  kind: "id_number" | "phone" | "bank_card" | "address" | string;
  field: string;
  start: number;
  end: number;
  line: number;
  column: number;
  excerpt: string;
  message?: string;
}

export type DecisionStatus =
  "pending" | "published" | "blocked" | "withheld" | "taken_down" | "expired";

export const DECISION_STATUSES: DecisionStatus[] = [
  "blocked",
  "pending",
  "published",
  "withheld",
  "taken_down",
  "expired",
];

export interface PublishedDecision {
  id: number;
  unit_id: number;
  case_id: number | null;
  document_id: string | null;
  number: string;
  title: string;
  party_kind: "natural" | "legal" | string;
  party_display: string;
  decided_at: string;
  penalty_summary: string;
  body: string;
  status: DecisionStatus | string;
  withheld_reason: string;
  block_hits: Hit[];
  published_at: string | null;
  due_by: string;
  offline_after: string | null;
  takedown_notice: string;
  taken_down_at: string | null;
  corrected_from_id: number | null;
  created_at: string;
  updated_at: string;
}

export type DecisionChanges = Partial<Pick<PublishedDecision, "body" | "party_display" | "title">>;

/** The latest version of a kind, or null when the unit has not saved one yet. */
export async function content(kind: ContentKind): Promise<PublicContent | null> {
  try {
    return await request<PublicContent>("GET", `/disclosure/${kind}`);
  } catch (err) {
    if (err instanceof ApiError && err.code === "content_not_found") return null;
    throw err;
  }
}

export async function contentVersions(kind: ContentKind): Promise<PublicContent[]> {
  return (
    await request<{ kind: string; items: PublicContent[] }>("GET", `/disclosure/${kind}/versions`)
  ).items;
}

export function saveContent(kind: ContentKind, data: Record<string, unknown>) {
  return request<PublicContent>("PUT", `/disclosure/${kind}`, data);
}

export async function decisions(status?: string): Promise<PublishedDecision[]> {
  const query = status ? `?status=${encodeURIComponent(status)}` : "";
  return (await request<{ items: PublishedDecision[] }>("GET", `/disclosure/decisions${query}`))
    .items;
}

export function decision(id: number) {
  return request<PublishedDecision>("GET", `/disclosure/decisions/${id}`);
}

export function editDecision(id: number, changes: DecisionChanges) {
  return request<PublishedDecision>("PUT", `/disclosure/decisions/${id}`, changes);
}

export function publishDecision(id: number) {
  return request<PublishedDecision>("POST", `/disclosure/decisions/${id}/publish`);
}

export function takeDownDecision(id: number, notice: string) {
  return request<PublishedDecision>("POST", `/disclosure/decisions/${id}/take-down`, { notice });
}

// --- yearly report (执法统计年报) -------------------------------------------------------------

export interface AnnualReport {
  id: number;
  unit_id: number;
  year: number;
  status: "draft" | "frozen" | "published" | string;
  figures?: Record<string, unknown>;
  narrative: string;
  narrative_edited: boolean;
  computed_at: string;
  snapshot_sha256: string | null;
  frozen_at: string | null;
  frozen_by: number | null;
  frozen_late: boolean;
  published_at: string | null;
  published_by: number | null;
  freeze_deadline: string;
  public_url: string | null;
}

export async function reports(): Promise<AnnualReport[]> {
  return (await request<{ items: AnnualReport[] }>("GET", "/reports")).items;
}

export function report(year: number) {
  return request<AnnualReport>("GET", `/reports/${year}`);
}

export function draftReport(year: number) {
  return request<AnnualReport>("POST", `/reports/${year}/draft`);
}

/** `null` goes back to the generated narrative. */
export function editNarrative(year: number, narrative: string | null) {
  return request<AnnualReport>("PUT", `/reports/${year}`, { narrative });
}

export function freezeReport(year: number) {
  return request<AnnualReport>("POST", `/reports/${year}/freeze`);
}

export function publishReport(year: number) {
  return request<AnnualReport>("POST", `/reports/${year}/publish`);
}
