/** The admin's calls: 行政执法公示 content and decisions (server/api/disclosure.py), and the
 * yearly report (server/api/reports.py). */
import { request } from "./api";

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

/** The latest version of a kind, or null when the unit has not saved one yet. Read from the
 * version list (newest first), which is empty rather than a 404 for a new unit, so a new
 * unit's overview fills the browser console with no failed requests. */
export async function content(kind: ContentKind): Promise<PublicContent | null> {
  return (await contentVersions(kind))[0] ?? null;
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

// --- accounts, the unit, credentials and phones (server/api/admin.py, credentials.py) ---------

export interface Unit {
  id: number;
  code: string;
  name: string;
  /** the prefix of document numbers, e.g. 沪静市监 */
  short_name: string;
  address: string;
  contact_phone: string;
  display_name: string;
  number_prefix: string;
  /** what the admin still has to fill in: "name", "short_name" */
  missing: string[];
}

export type UnitChanges = Partial<Pick<Unit, "name" | "short_name" | "address" | "contact_phone">>;

export interface Account {
  id: number;
  username: string;
  name: string;
  role: string;
  active: boolean;
  created_at: string;
  unit: Unit;
}

export interface Credential {
  id: number;
  user_id: number;
  number: string;
  issuing_authority: string;
  categories: string[];
  area: string;
  valid_from: string;
  valid_to: string;
  status: "active" | "suspended" | "revoked" | string;
  status_changed_at: string | null;
  photo_sha256: string | null;
}

export interface CredentialIssue {
  user_id: number;
  number: string;
  issuing_authority: string;
  categories: string[];
  area: string;
  valid_from: string;
  valid_to: string;
}

export interface DeviceKey {
  id: number;
  device_id: string;
  fingerprint: string;
  created_at: string;
  last_certified_at: string | null;
  revoked_at: string | null;
  revoked_reason: string;
}

export interface Device {
  id: string;
  holder: { id: number; username: string; name: string };
  registered_at: string | null;
  last_seen_at: string | null;
  uploads: number;
  last_upload_at: string | null;
  keys: DeviceKey[];
  revoked: boolean;
}

export function unit() {
  return request<Unit>("GET", "/unit");
}

export function saveUnit(changes: UnitChanges) {
  return request<Unit>("PUT", "/unit", changes);
}

export async function accounts(): Promise<Account[]> {
  return (await request<{ items: Account[] }>("GET", "/users")).items;
}

export function account(id: number) {
  return request<Account>("GET", `/users/${id}`);
}

export function createAccount(body: {
  username: string;
  name: string;
  role: string;
  password: string;
}) {
  return request<Account>("POST", "/users", body);
}

export function updateAccount(id: number, changes: { name?: string; role?: string }) {
  return request<Account>("PATCH", `/users/${id}`, changes);
}

export function resetPassword(id: number, password: string) {
  return request<Account>("POST", `/users/${id}/password`, { password });
}

export function setActive(id: number, active: boolean, reason = "") {
  return request<Account>("POST", `/users/${id}/status`, { active, reason });
}

export async function credentials(userId: number): Promise<Credential[]> {
  return (await request<{ items: Credential[] }>("GET", `/credentials?user_id=${userId}`)).items;
}

export function issueCredential(body: CredentialIssue) {
  return request<Credential>("POST", "/credentials", body);
}

export function changeCredentialStatus(id: number, status: string, reason: string) {
  return request<Credential>("POST", `/credentials/${id}/status`, { status, reason });
}

export function renewCredential(
  id: number,
  body: { number: string; valid_from: string; valid_to: string },
) {
  return request<Credential>("POST", `/credentials/${id}/renew`, body);
}

/** The photo as a data: URL (JPEG or PNG); the server re-encodes it without metadata. */
export function uploadPhoto(id: number, dataUrl: string) {
  return request<Credential>("PUT", `/credentials/${id}/photo`, { image: dataUrl });
}

export async function devices(): Promise<Device[]> {
  return (await request<{ items: Device[] }>("GET", "/devices")).items;
}

export function revokeDevice(id: string, reason: string) {
  return request<Device>("POST", `/devices/${encodeURIComponent(id)}/revoke`, { reason });
}

export interface SetupState {
  needed: boolean;
  code_required: boolean;
}

export function setupState() {
  return request<SetupState>("GET", "/setup", undefined, { auth: false });
}

export function runSetup(body: {
  unit: UnitChanges & { code: string };
  admin: { username: string; name: string; password: string };
  setup_code?: string;
}) {
  return request<Account>("POST", "/setup", body, { auth: false });
}

/** Whether the audit log's tree heads get trusted time (RFC 3161), in both languages. */
export interface TrustedTime {
  state: "off" | "on" | "pending";
  latest: { tree_size: number; signed_at: string; stamped_at: string | null } | null;
  message: { zh: string; en: string };
}

export function trustedTime() {
  return request<TrustedTime>("GET", "/trusted-time");
}
