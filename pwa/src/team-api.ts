/**
 * The case's officers (办案人员), the officer's credential standing, opening a case, 立案审批
 * and execution records: the /api/v1 calls of the officer's journeys (open-case.ts,
 * onsite-flow.ts, case-team.ts).
 */
import { request, type Case } from "./api";

export interface OfficerStanding {
  id: number;
  name: string;
  username: string;
  certified: boolean;
  /** why not: no_credential | expired | suspended | revoked | inactive */
  reason: string | null;
  message: string;
  message_en: string;
  credential_number: string | null;
}

export interface Team {
  case_id: number;
  items: OfficerStanding[];
  certified: number;
  minimum: number;
  enough: boolean;
  message: string;
  message_en: string;
}

export interface MyStanding {
  valid: boolean;
  reason: string | null;
  message: string;
  message_en: string;
}

export interface NewCase {
  title: string;
  procedure: "simple" | "general";
  location: string;
  parties: { name: string; kind: "person" | "organisation" }[];
  officer_ids: number[];
}

export interface ExecutionRecord {
  kind: "payment" | "compulsory_application" | "performed" | "other";
  on: string;
  amount?: number | null;
  reference?: string;
  note?: string;
}

export async function unitOfficers(): Promise<{ items: OfficerStanding[]; minimum: number }> {
  return request("GET", "/officers");
}

export function caseTeam(caseId: number): Promise<Team> {
  return request<Team>("GET", `/cases/${caseId}/officers`);
}

export function assignOfficers(caseId: number, officerIds: number[]): Promise<Team> {
  return request<Team>("PUT", `/cases/${caseId}/officers`, { officer_ids: officerIds });
}

export function myStanding(): Promise<MyStanding> {
  return request<MyStanding>("GET", "/me/standing");
}

export function createCase(body: NewCase): Promise<Case & { procedure: string }> {
  return request("POST", "/cases", body);
}

export function getCase(caseId: number): Promise<Case & Record<string, unknown>> {
  return request("GET", `/cases/${caseId}`);
}

export function approveFiling(
  caseId: number,
  body: { opinion: string; signer_name: string; image: string; device_signed_at: string },
): Promise<{ case: Case; document: { id: string; number: string; status: string } }> {
  return request("POST", `/cases/${caseId}/filing-approval`, body);
}

/** 退回补正: the signed form is kept; a new version with the reason goes back to the officer. */
export function returnFiling(
  caseId: number,
  reason: string,
): Promise<{ case: Case; document: { id: string; version: number; status: string } }> {
  return request("POST", `/cases/${caseId}/filing-approval/return`, { reason });
}

export function addExecution(caseId: number, record: ExecutionRecord): Promise<unknown> {
  return request("POST", `/cases/${caseId}/execution`, record);
}
