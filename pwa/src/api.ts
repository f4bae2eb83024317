/** The JSON API under /api/v1 (same origin): login, the current user, cases, media status. */
import { t } from "./i18n";

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
      throw new ApiError(err?.message || t("session_expired"), 401, err?.code ?? "unauthorized");
    }
    throw new ApiError(
      err?.message || `${resp.status} ${resp.statusText}`,
      resp.status,
      err?.code ?? "http_error",
    );
  }
  return data as T;
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
