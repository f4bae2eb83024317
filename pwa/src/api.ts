/** The JSON API under /api/v1 (same origin): login, the current user, cases, media status. */
import { t } from "./i18n";
import { serverText } from "./words";

export const API = "/api/v1";

export interface User {
  id: number;
  username: string;
  name: string;
  role: string;
  unit: string | null;
}

export interface Session {
  token: string;
  expires_at: string;
  user: User;
}

export interface Case {
  id: number;
  number: string;
  title: string;
  current_stage: string;
  stages?: unknown;
  officers?: unknown;
  media_counts?: Record<string, number>;
}

export interface UploadStatus {
  offset: number;
  length: number;
  status: string;
  media_item_id: string | null;
  media_status: "received" | "verified" | "hash_mismatch" | null;
  media_status_message: string | null;
}

export interface MediaItem {
  id: string;
  status: string;
  status_message?: string;
  device_sha256: string;
  server_sha256?: string | null;
}

/** An error the officer can read: the server's `error.message`, or a sentence of our own. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    /** The server's `error.details` (422 `fields`, 409 `missing`, …); `{}` when there are none. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  get isNetwork(): boolean {
    return this.status === 0;
  }
}

let token: string | null = null;
let userId: number | null = null;
let onUnauthorized: (() => void) | null = null;

export function setSession(session: Session | null): void {
  token = session?.token ?? null;
  userId = session?.user.id ?? null;
}

/** The signed-in officer, whose queue entries this session may upload. */
export function currentUserId(): number | null {
  return userId;
}

export function getToken(): string | null {
  return token;
}

export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  { auth = true }: { auth?: boolean } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  let resp: Response;
  try {
    resp = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(t("network_error"), 0, "network");
  }
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    const err = data?.error;
    if (resp.status === 401 && auth) {
      onUnauthorized?.();
      throw new ApiError(t("session_expired"), 401, err?.code ?? "unauthorized");
    }
    const details = err?.details && typeof err.details === "object" ? err.details : {};
    throw new ApiError(
      // said in the UI's language by its code, never in English on a Chinese screen (words.ts)
      serverText(err?.message, resp.status, err?.code, details),
      resp.status,
      err?.code ?? "http_error",
      details,
    );
  }
  return data as T;
}

/**
 * A binary resource of this origin (an image) fetched with the bearer token, never from the
 * HTTP cache; errors as request() makes them.
 */
export async function fetchBlob(url: string): Promise<Blob> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let resp: Response;
  try {
    resp = await fetch(url, { headers, cache: "no-store" });
  } catch {
    throw new ApiError(t("network_error"), 0, "network");
  }
  if (!resp.ok) {
    const err = (await resp.json().catch(() => null))?.error;
    if (resp.status === 401) onUnauthorized?.();
    throw new ApiError(
      err?.message || `${resp.status} ${resp.statusText}`,
      resp.status,
      err?.code ?? "http_error",
    );
  }
  return resp.blob();
}

export function login(username: string, password: string): Promise<Session> {
  return request<Session>("POST", "/auth/login", { username, password }, { auth: false });
}

export function me(): Promise<User> {
  return request<User>("GET", "/auth/me");
}

export async function listCases(): Promise<Case[]> {
  const data = await request<{ items: Case[] }>("GET", "/cases?per_page=100");
  return data.items;
}

export function uploadStatus(uploadUrl: string): Promise<UploadStatus> {
  const id = uploadUrl.replace(/\/+$/, "").split("/").pop();
  return request<UploadStatus>("GET", `/uploads/${id}`);
}

export function mediaItem(id: string): Promise<MediaItem> {
  return request<MediaItem>("GET", `/media/${id}`);
}

export async function caseMediaBySha(caseId: number, sha256: string): Promise<MediaItem[]> {
  const data = await request<{ items: MediaItem[] }>(
    "GET",
    `/cases/${caseId}/media?sha256=${sha256}`,
  );
  return data.items;
}

// --- case workflow: enforcement documents (执法文书), completeness, stages ------------------------

export interface Label {
  zh: string;
  en: string;
}

export type FieldType =
  | "datetime"
  | "date"
  | "string"
  | "text"
  | "integer"
  | "decimal"
  | "choice"
  | "boolean"
  | "list"
  | "object";

/** One form field as `GET /document-types` describes it. */
export interface DocField {
  name: string;
  label: Label;
  type: FieldType;
  required: boolean;
  choices?: { value: string; label: Label }[];
  /** The fields of an object, or of each row of a list of objects. */
  fields?: DocField[];
  /** The type of each row of a list of plain values. */
  item_type?: FieldType;
  min?: number;
  max?: number;
  min_items?: number;
}

export type SignerRole = "officer" | "party" | "leader" | "reviewer" | "recipient" | "approver";

export interface DocType {
  code: string;
  title: Label;
  stage: string;
  abbr: string;
  signatures: SignerRole[];
  recording: string | null;
  /** Stages the case cannot leave without this document: it is offered there too. */
  needed_to_leave?: string[];
  fields: DocField[];
}

export interface DocSignature {
  id: number;
  role: SignerRole;
  signer_name: string;
  sha256: string;
  signed_at: string;
  device_signed_at: string | null;
}

export interface DocVersion {
  id: string;
  version: number;
  status: string;
  number: string | null;
  sha256: string | null;
  issued_at: string | null;
  created_at: string;
}

export interface EnforcementDocument {
  id: string;
  series_id: string;
  version: number;
  case_id: number;
  type: string;
  title: Label;
  stage: string;
  fields: Record<string, unknown>;
  status: "draft" | "issued" | "superseded" | string;
  number: string | null;
  sha256: string | null;
  created_at: string;
  issued_at: string | null;
  signatures: DocSignature[];
  pdf_url: string | null;
  /** A copy may be handed to the party (internal papers stay in the file). */
  for_the_party: boolean;
  versions?: DocVersion[];
}

export interface SignatureInput {
  role: SignerRole;
  signer_name: string;
  /** `data:image/png;base64,…` from the on-screen pad. */
  image: string;
  /** When it was signed, by the phone's clock (ISO 8601 with offset). */
  device_signed_at: string;
  /** The content hash of the version the signer was shown (review-match); the server refuses
   * the signature if the document changed since. */
  shown_content_sha256?: string;
}

export interface Handover {
  url: string;
  expires_at: string;
  qr_svg: string;
}

export interface Requirement {
  code: string;
  kind: string;
  met: boolean;
  message: string;
  message_en?: string;
  overridable?: boolean;
}

export interface StageCompleteness {
  stage: string;
  label: Label;
  reached: boolean;
  current?: boolean;
  requirements: Requirement[];
  missing: string[];
}

export interface Completeness {
  case_id: number;
  procedure: string;
  procedure_label?: Label;
  current_stage: string;
  next_stage: string | null;
  next_stage_roles?: string[];
  can_advance: boolean;
  stages: StageCompleteness[];
}

export async function documentTypes(): Promise<DocType[]> {
  return (await request<{ items: DocType[] }>("GET", "/document-types")).items;
}

export async function caseDocuments(caseId: number): Promise<EnforcementDocument[]> {
  return (await request<{ items: EnforcementDocument[] }>("GET", `/cases/${caseId}/documents`))
    .items;
}

export function getDocument(id: string): Promise<EnforcementDocument> {
  return request<EnforcementDocument>("GET", `/documents/${id}`);
}

export function createDocument(
  caseId: number,
  type: string,
  fields: Record<string, unknown>,
): Promise<EnforcementDocument> {
  return request<EnforcementDocument>("POST", `/cases/${caseId}/documents`, { type, fields });
}

/** Edit a draft in place (an issued document is corrected with `correctDocument`). */
export function updateDocument(
  id: string,
  fields: Record<string, unknown>,
): Promise<EnforcementDocument> {
  return request<EnforcementDocument>("PUT", `/documents/${id}`, { fields });
}

export function correctDocument(
  id: string,
  fields: Record<string, unknown>,
): Promise<EnforcementDocument> {
  return request<EnforcementDocument>("POST", `/documents/${id}/versions`, { fields });
}

export function signDocument(id: string, body: SignatureInput): Promise<EnforcementDocument> {
  return request<EnforcementDocument>("POST", `/documents/${id}/signatures`, body);
}

export function issueDocument(id: string): Promise<EnforcementDocument> {
  return request<EnforcementDocument>("POST", `/documents/${id}/issue`);
}

export function handoverDocument(id: string): Promise<Handover> {
  return request<Handover>("POST", `/documents/${id}/handover`);
}

export function caseCompleteness(caseId: number): Promise<Completeness> {
  return request<Completeness>("GET", `/cases/${caseId}/completeness`);
}

export function advanceStage(
  caseId: number,
  toStage: string,
  reason: string,
  overrideReason?: string,
): Promise<Case> {
  const body: Record<string, string> = { to_stage: toStage, reason };
  if (overrideReason) body.override_reason = overrideReason;
  return request<Case>("POST", `/cases/${caseId}/stage`, body);
}
