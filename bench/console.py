"""Supervisor console at scale: p50/p95 of the list and case endpoints on PostgreSQL.

    python bench/console.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                            [--cases 100000] [--items-per-case 10] [--units 20]
                            [--officers 400] [--requests 200] [--keep]

Creates a fresh schema in the database, builds the tables from the models, seeds it with
server-side ``INSERT ... SELECT generate_series`` (cases, their officers and stages, media
items with flags and statuses, one derivative per item, credential displays in the audit
log), fills the per-case counters as the application keeps them, runs VACUUM ANALYZE (what
autovacuum does to a settled table), then calls the Flask app through its test client as
one unit's supervisor: the case list (page 1, a deep page, each filter), the media list and
the case timeline, ``--requests`` times each. Prints p50/p95 per endpoint against the target
p95 < 100 ms and drops the schema (unless ``--keep``). Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from server import clock

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from server import create_app  # noqa: E402
from server.extensions import db  # noqa: E402
from server.services.auth import create_user  # noqa: E402

TARGET_P95_MS = 100.0
PASSWORD = "bench-password-long-enough"
STAGES = ["filing", "investigation", "evidence", "review", "decision", "service", "execution",
          "archive"]  # fmt: skip
ACTIVITIES = ["onsite_inspection", "random_inspection", "evidence_collection",
              "evidence_preservation", "hearing", "service", "other"]  # fmt: skip


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{v}'" for v in values) + "]"


def seed(conn: sa.Connection, *, cases: int, per_case: int, units: int, officers: int) -> None:
    """Fill the schema; officer ``o`` belongs to unit ``(o - 1) % units + 1``."""
    items = cases * per_case
    stages, activities = _sql_array(STAGES), _sql_array(ACTIVITIES)
    per_unit = officers // units
    steps: list[tuple[str, str]] = [
        (
            "units",
            f"""INSERT INTO units (id, code, name, created_at)
            SELECT g, 'U' || g, '执法单位' || g, now() FROM generate_series(1, {units}) g""",
        ),
        (
            "officers",
            f"""INSERT INTO users (id, username, name, role, unit_id, password_hash, active,
                                   created_at)
            SELECT g, 'officer' || g, '执法员' || g, 'officer', (g - 1) % {units} + 1, 'x', true,
                   now()
            FROM generate_series(1, {officers}) g""",
        ),
        ("random seed", "SELECT setseed(0.42)"),
        (
            "cases",
            f"""INSERT INTO cases (id, unit_id, number, title, case_type, parties, location,
                major_property, current_stage, recording_gaps, gap_count, created_by_id,
                created_at)
            SELECT g, (g - 1) % {units} + 1, '2025-' || lpad(g::text, 7, '0'),
                   (ARRAY['无证经营检查','食品安全抽查','噪声扰民','占道经营','油烟扰民'])
                       [1 + floor(r_title * 5)::int] || ' ' || g,
                   '市场监管', '[]', '', r_major < 0.1, ({stages})[1 + floor(r_stage * 8)::int],
                   CASE WHEN r_gap < 0.05 THEN '[{{"code": "activity_not_filmed", "stage":
                        "filing", "activity": "onsite_inspection", "message": "gap"}}]'::json
                        ELSE '[]'::json END,
                   CASE WHEN r_gap < 0.05 THEN 1 ELSE 0 END,
                   (g - 1) % {units} + 1,
                   now() - r_age * interval '730 days'
            FROM (SELECT g, random() AS r_title, random() AS r_major, random() AS r_stage,
                         random() AS r_gap, random() AS r_age
                  FROM generate_series(1, {cases}) g) r""",
        ),
        (
            "case officers",
            f"""INSERT INTO case_officers (case_id, user_id)
            SELECT c.id, c.unit_id + {units} * ((c.id / {units} + k * 7) % {per_unit})
            FROM cases c CROSS JOIN (VALUES (0), (1)) v(k)""",
        ),
        (
            "case stages",
            f"""INSERT INTO case_stages (case_id, stage, started_at, ended_at)
            SELECT c.id, ({stages})[o], c.created_at + (o - 1) * interval '3 days',
                   CASE WHEN o < array_position({stages}, c.current_stage)
                        THEN c.created_at + o * interval '3 days' END
            FROM cases c CROSS JOIN generate_series(1, 8) o
            WHERE o <= array_position({stages}, c.current_stage)""",
        ),
        (
            "media items",
            f"""INSERT INTO media_items (id, case_id, unit_id, stage, activity, kind, filename,
                claimed_content_type, detected_content_type, size, bucket, object_key,
                device_sha256, server_sha256, status, status_message, verify_attempts,
                captured_at, received_at, stored_at, verified_at, device_clock_offset_s,
                latitude, longitude, accuracy_m, location_status, device_id, uploader_id,
                processing, steps, flags, flag_code_list, duration_s, width, height,
                attached_stage, key_evidence, key_evidence_reason)
            SELECT md5(g::text), c.id, c.unit_id, s.stage,
                   ({activities})[1 + floor(r_activity * 7)::int], k.kind, 'F' || g,
                   k.mime, k.mime, 100000 + g % 5000000, 'originals',
                   'cases/' || c.id || '/' || md5(g::text),
                   md5(g::text) || md5(g::text), md5(g::text) || md5(g::text),
                   CASE WHEN r_status < 0.003 THEN 'received'
                        WHEN r_status < 0.005 THEN 'hash_mismatch' ELSE 'verified' END,
                   '', 1,
                   c.created_at + ((g - 1) / {cases}) * interval '5 hours',
                   c.created_at + ((g - 1) / {cases}) * interval '5 hours'
                       + CASE WHEN f.code = 'late_upload' THEN interval '2 days'
                              ELSE interval '10 minutes' END,
                   c.created_at + ((g - 1) / {cases}) * interval '5 hours' + interval '11 min',
                   c.created_at + ((g - 1) / {cases}) * interval '5 hours' + interval '12 min',
                   CASE WHEN f.code = 'device_clock_skew' THEN 7200 ELSE 1 END,
                   31.2 + (g % 1000) / 10000.0, 121.4 + (g % 777) / 10000.0, 8, 'ok',
                   'phone-' || c.unit_id,
                   c.unit_id + {units} * ((c.id / {units} + (g / {cases}) % 2 * 7) % {per_unit}),
                   'done', '{{}}',
                   CASE WHEN f.code IS NULL THEN '[]'::json
                        ELSE json_build_array(json_build_object('code', f.code,
                                                                'message', f.code)) END,
                   CASE WHEN f.code IS NULL THEN '' ELSE ',' || f.code || ',' END,
                   CASE WHEN k.kind IN ('video', 'audio') THEN 30 + g % 600 END,
                   CASE WHEN k.kind IN ('video', 'photo') THEN 1920 END,
                   CASE WHEN k.kind IN ('video', 'photo') THEN 1080 END,
                   CASE WHEN f.code = 'unattached' THEN NULL ELSE s.stage END,
                   false, ''
            FROM (SELECT g, random() AS r_kind, random() AS r_activity, random() AS r_status,
                         random() AS r_flag FROM generate_series(1, {items}) g) x
            JOIN cases c ON c.id = (g - 1) % {cases} + 1
            CROSS JOIN LATERAL (SELECT ({stages})[1 + (g - 1) / {cases}
                % array_position({stages}, c.current_stage)] AS stage) s
            CROSS JOIN LATERAL (SELECT CASE WHEN r_kind < 0.4 THEN 'photo'
                WHEN r_kind < 0.7 THEN 'video' WHEN r_kind < 0.9 THEN 'audio'
                ELSE 'document' END AS kind) k0
            CROSS JOIN LATERAL (SELECT k0.kind, CASE k0.kind WHEN 'photo' THEN 'image/jpeg'
                WHEN 'video' THEN 'video/mp4' WHEN 'audio' THEN 'audio/webm'
                ELSE 'application/pdf' END AS mime) k
            CROSS JOIN LATERAL (SELECT CASE WHEN r_flag < 0.03 THEN 'late_upload'
                WHEN r_flag < 0.04 THEN 'device_clock_skew'
                WHEN r_flag < 0.045 THEN 'unattached' END AS code) f""",
        ),
        (
            "derivatives",
            """INSERT INTO derivatives (media_item_id, name, bucket, object_key, content_type,
                size, sha256, source_sha256, info, created_at)
            SELECT id, 'thumbnail', 'derivatives', 'thumbs/' || id, 'image/jpeg', 20000,
                   device_sha256, device_sha256, '{}', now()
            FROM media_items""",
        ),
        (
            "credential displays",
            f"""INSERT INTO audit_entries (seq, at, actor_id, actor, action, object_type,
                object_id, client_addr, details, prev_hash, entry_hash)
            SELECT g, now() - (g % 730) * interval '1 day' - (g % 1440) * interval '1 minute',
                   (g - 1) % {officers} + 1, 'officer' || ((g - 1) % {officers} + 1),
                   'credential.displayed', 'credential', ((g - 1) % {officers} + 1)::text, '',
                   json_build_object('number', 'N' || ((g - 1) % {officers} + 1)),
                   md5((g - 1)::text) || md5((g - 1)::text), md5(g::text) || md5(g::text)
            FROM generate_series(1, {officers * 500}) g""",
        ),
        (
            "case counters",
            """UPDATE cases c SET unverified_count = s.unverified,
                   hash_mismatch_count = s.mismatch, unattached_count = s.unattached,
                   clock_skew_count = s.skew, late_upload_count = s.late
            FROM (SELECT case_id,
                         count(*) FILTER (WHERE status = 'received') AS unverified,
                         count(*) FILTER (WHERE status = 'hash_mismatch') AS mismatch,
                         count(*) FILTER (WHERE flag_code_list LIKE '%,unattached,%')
                             AS unattached,
                         count(*) FILTER (WHERE flag_code_list LIKE '%,device_clock_skew,%'
                             OR flag_code_list LIKE '%,capture_time_mismatch,%') AS skew,
                         count(*) FILTER (WHERE flag_code_list LIKE '%,late_upload,%') AS late
                  FROM media_items GROUP BY case_id) s
            WHERE s.case_id = c.id AND s.unverified + s.mismatch + s.unattached + s.skew
                  + s.late > 0""",
        ),
        (
            "sequences",
            """SELECT setval(pg_get_serial_sequence('units', 'id'), (SELECT max(id) FROM units)),
                      setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users)),
                      setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases)),
                      setval(pg_get_serial_sequence('audit_entries', 'id'),
                             (SELECT max(id) FROM audit_entries))""",
        ),
    ]
    for name, statement in steps:
        started = time.perf_counter()
        result = conn.execute(sa.text(statement))
        rows = f"{result.rowcount:>9,} rows" if result.rowcount and result.rowcount > 0 else ""
        print(f"  {name:<20} {rows:>15}  {time.perf_counter() - started:6.1f} s", flush=True)


def measure(call: Callable[[], object], n: int) -> list[float]:
    for _ in range(5):  # warm-up: plans, caches, connections
        call()
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--items-per-case", type=int, default=10)
    parser.add_argument("--units", type=int, default=20)
    parser.add_argument("--officers", type=int, default=400)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args()

    schema = f"bench_console_{uuid.uuid4().hex[:8]}"
    admin_engine = sa.create_engine(args.database_url)
    with admin_engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.database_url else "?"
    url = f"{args.database_url}{sep}options=-csearch_path%3D{schema}"
    try:
        with tempfile.TemporaryDirectory(prefix="ft-bench-console-") as tmp:
            app = create_app(
                SECRET_KEY="bench",
                SQLALCHEMY_DATABASE_URI=url,
                DATA_DIR=Path(tmp),
                SIGNING_KEY_FILE=Path(tmp) / "signing.pem",
                S3_ENDPOINT_URL="http://127.0.0.1:9",  # never contacted: no bytes are served
            )
            return run(app, args, schema)
    finally:
        if not args.keep:
            with admin_engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            print(f"dropped schema {schema}")
        admin_engine.dispose()


def run(app, args: argparse.Namespace, schema: str) -> int:
    items = args.cases * args.items_per_case
    print(
        f"seeding schema {schema}: {args.cases:,} cases, {items:,} media items, "
        f"{args.units} units, {args.officers} officers"
    )
    started = time.perf_counter()
    with app.app_context():
        db.create_all()
        with db.engine.begin() as conn:
            seed(
                conn,
                cases=args.cases,
                per_case=args.items_per_case,
                units=args.units,
                officers=args.officers,
            )
        # What autovacuum does to a settled table: statistics and the visibility map (so
        # counts over a unit's index range need not visit the heap).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        create_user(
            db.session,
            username="supervisor",
            password=PASSWORD,
            role="supervisor",
            name="张主任",
            unit_code="U1",
        )
        db.session.commit()
    print(f"seeded and analysed in {time.perf_counter() - started:.0f} s\n")

    client = app.test_client()
    token = client.post(
        "/api/v1/auth/login", json={"username": "supervisor", "password": PASSWORD}
    ).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    unit_cases = list(range(1, args.cases + 1, args.units))  # unit U1's case ids
    deep = (len(unit_cases) // 50) or 1
    today = clock.now().date()
    month_ago = (today - timedelta(days=30)).isoformat()
    rng = random.Random(5)

    def get(path: str, **params: object) -> Callable[[], object]:
        def call() -> object:
            resp = client.get(path, query_string=params, headers=headers)
            assert resp.status_code == 200, (path, params, resp.status_code, resp.json)
            return resp

        return call

    def timeline() -> object:
        case_id = rng.choice(unit_cases)
        resp = client.get(f"/api/v1/cases/{case_id}/timeline", headers=headers)
        assert resp.status_code == 200, resp.json
        return resp

    cases, media = "/api/v1/console/cases", "/api/v1/console/media"
    scenarios: list[tuple[str, Callable[[], object]]] = [
        ("cases page 1", get(cases)),
        (f"cases page {deep} (deep)", get(cases, page=deep)),
        ("cases flag=gap", get(cases, flag="gap")),
        ("cases flag=unverified", get(cases, flag="unverified")),
        ("cases flag=late_upload p3", get(cases, flag="late_upload", page=3)),
        ("cases officer_id", get(cases, officer_id=1)),
        ("cases from..to (30 days)", get(cases, **{"from": month_ago, "to": today.isoformat()})),
        ("cases number prefix", get(cases, number="2025-00012")),
        ("cases kind=audio stage=review", get(cases, kind="audio", stage="review")),
        ("cases q=油烟", get(cases, q="油烟")),
        ("media page 1", get(media)),
        ("media page 100", get(media, page=100)),
        ("media flag=late_upload", get(media, flag="late_upload")),
        ("media officer_id kind=video", get(media, officer_id=1, kind="video")),
        ("case timeline (random case)", timeline),
    ]
    print(f"{'endpoint':<34}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  result")
    failed = False
    for name, call in scenarios:
        timings = measure(call, args.requests)
        worst = p95(timings)
        ok = worst < TARGET_P95_MS
        failed |= not ok
        print(
            f"{name:<34}{len(timings):>5}{statistics.median(timings):>9.1f}{worst:>9.1f}"
            f"{max(timings):>9.1f}  {'PASS' if ok else 'FAIL'}"
        )
    print(
        f"\ntarget: p95 < {TARGET_P95_MS:.0f} ms for every endpoint: {'FAIL' if failed else 'PASS'}"
    )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
