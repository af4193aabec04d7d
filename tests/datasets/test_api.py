"""Dataset routes over HTTP: upload, list, get, preview, versions, delete; ownership and roles."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from nexus.config import DatasetSettings
from nexus.datasets.models import Dataset
from nexus.users.models import Role, User
from tests.fixtures.app import Api, ApiFactory
from tests.fixtures.datasets import data_dir, row_counts

DATASETS = "/api/v1/datasets"
PROBLEM = "application/problem+json"

SALES = (
    "order_id,order_date,region,amount\n"
    + "".join(f"{i},2024-01-{1 + i % 28:02d},{['north', 'south'][i % 2]},{i * 1.5}\n" for i in range(1, 26))
).encode()
SALES_V2 = b"order_id,customer,total\n1,ana,10\n2,bo,20\n"


def upload(
    api: Api,
    headers: dict[str, str],
    content: bytes = SALES,
    filename: str = "sales.csv",
    name: str | None = None,
    path: str = DATASETS,
) -> httpx.Response:
    data = {"name": name} if name is not None else None
    return api.client.post(path, files={"file": (filename, content, "text/csv")}, data=data, headers=headers)


def create(api: Api, headers: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    response = upload(api, headers, **kwargs)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def dataset_files(api: Api, dataset_id: str) -> list[str]:
    directory = data_dir(api) / "datasets" / dataset_id
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def stored_uploads(api: Api) -> list[Path]:
    uploads = data_dir(api) / "uploads"
    return list(uploads.iterdir()) if uploads.exists() else []


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


class TestUpload:
    def test_upload_creates_a_ready_dataset(self, api: Api, analyst_headers: dict[str, str]) -> None:
        response = upload(api, analyst_headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["name"] == "sales"
        assert (body["version"], body["status"], body["progress"]) == (1, "ready", 1.0)
        (table,) = body["tables"]
        assert table["name"] == "data" and table["row_count"] == 25
        columns = {c["name"]: (c["type"], c["role"]) for c in table["columns"]}
        assert columns == {
            "order_id": ("integer", "id"),
            "order_date": ("date", "date"),
            "region": ("text", "category"),
            "amount": ("number", "amount"),
        }
        (version,) = body["versions"]
        assert version == {
            "version": 1,
            "status": "ready",
            "progress": 1.0,
            "source_filename": "sales.csv",
            "source_format": "csv",
            "source_bytes": len(SALES),
            "created_at": version["created_at"],
        }
        with api.runtime.sessions() as session:
            user = session.scalar(select(User).where(User.username == "ana"))
            stored = session.get(Dataset, uuid.UUID(body["id"]))
            assert user is not None and stored is not None
            assert body["owner_id"] == str(user.id) == str(stored.owner_id)
            assert stored.versions[0].source_sha256 == hashlib.sha256(SALES).hexdigest()
            version_id = stored.versions[0].id
        assert dataset_files(api, body["id"]) == [f"{version_id}.duckdb"]
        assert stored_uploads(api) == []

    @pytest.mark.parametrize(
        ("filename", "name", "expected"),
        [
            ("sales.csv", None, "sales"),
            ("Q1 report.v2.csv", None, "Q1 report.v2"),
            ("sales.csv", "  My sales  ", "My sales"),
            ("sales.csv", "", "sales"),
        ],
    )
    def test_name(
        self, api: Api, analyst_headers: dict[str, str], filename: str, name: str | None, expected: str
    ) -> None:
        body = create(api, analyst_headers, filename=filename, name=name)
        assert body["name"] == expected
        assert body["versions"][0]["source_filename"] == filename

    def test_unauthenticated_upload_is_401_and_stores_nothing(self, api: Api) -> None:
        assert_problem(upload(api, {}), 401)
        assert row_counts(api) == (0, 0, 0)
        assert stored_uploads(api) == []


class TestList:
    def test_paginated_newest_first(self, api: Api, analyst_headers: dict[str, str]) -> None:
        ids = [create(api, analyst_headers, name=f"set {i}")["id"] for i in range(3)]
        first = api.client.get(DATASETS, params={"limit": 2}, headers=analyst_headers).json()
        assert (first["total"], first["limit"], first["offset"]) == (3, 2, 0)
        second = api.client.get(DATASETS, params={"limit": 2, "offset": 2}, headers=analyst_headers).json()
        assert second["total"] == 3
        listed = [item["id"] for item in first["items"] + second["items"]]
        assert listed == ids[::-1]
        item = first["items"][0]
        assert set(item) == {
            "id",
            "name",
            "owner_id",
            "version",
            "status",
            "progress",
            "created_at",
            "updated_at",
        }
        assert (item["name"], item["version"], item["status"]) == ("set 2", 1, "ready")

    def test_only_own_datasets_admin_sees_all(self, api: Api, analyst_headers: dict[str, str]) -> None:
        other = api.headers_for("other", Role.ANALYST)
        admin = api.headers_for("boss", Role.ADMIN)
        mine = create(api, analyst_headers)["id"]
        theirs = create(api, other)["id"]
        for headers, expected in ((analyst_headers, [mine]), (other, [theirs]), (admin, [theirs, mine])):
            page = api.client.get(DATASETS, headers=headers).json()
            assert [item["id"] for item in page["items"]] == expected
            assert page["total"] == len(expected)

    @pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}])
    def test_bad_paging_is_422(
        self, api: Api, analyst_headers: dict[str, str], params: dict[str, Any]
    ) -> None:
        assert_problem(api.client.get(DATASETS, params=params, headers=analyst_headers), 422)


class TestGet:
    def test_get_matches_upload(self, api: Api, analyst_headers: dict[str, str]) -> None:
        created = create(api, analyst_headers)
        response = api.client.get(f"{DATASETS}/{created['id']}", headers=analyst_headers)
        assert response.status_code == 200
        assert response.json() == created

    def test_admin_may_read_anyones(self, api: Api, analyst_headers: dict[str, str]) -> None:
        created = create(api, analyst_headers)
        admin = api.headers_for("boss", Role.ADMIN)
        assert api.client.get(f"{DATASETS}/{created['id']}", headers=admin).json()["id"] == created["id"]

    def test_not_a_uuid_is_422(self, api: Api, analyst_headers: dict[str, str]) -> None:
        assert_problem(api.client.get(f"{DATASETS}/not-a-uuid", headers=analyst_headers), 422)


class TestRows:
    def rows_url(self, dataset_id: str, table: str = "data") -> str:
        return f"{DATASETS}/{dataset_id}/tables/{table}/rows"

    def test_offset_and_limit(self, api: Api, analyst_headers: dict[str, str]) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        response = api.client.get(
            self.rows_url(dataset_id), params={"offset": 5, "limit": 10}, headers=analyst_headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["columns"] == ["order_id", "order_date", "region", "amount"]
        assert (page["offset"], page["limit"], page["total"], page["version"]) == (5, 10, 25, 1)
        assert page["table"] == "data" and page["dataset_id"] == dataset_id
        assert [row[0] for row in page["rows"]] == list(range(6, 16))
        assert page["rows"][0] == [6, "2024-01-07", "north", 9.0]

    def test_defaults_and_past_the_end(self, api: Api, analyst_headers: dict[str, str]) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        page = api.client.get(self.rows_url(dataset_id), headers=analyst_headers).json()
        assert (page["offset"], page["limit"], len(page["rows"])) == (0, 100, 25)
        beyond = api.client.get(self.rows_url(dataset_id), params={"offset": 1000}, headers=analyst_headers)
        assert beyond.json()["rows"] == [] and beyond.json()["total"] == 25

    def test_limit_is_capped_by_max_preview_rows(self, api_factory: ApiFactory) -> None:
        api = api_factory(datasets=DatasetSettings(_env_file=None, max_preview_rows=7))  # type: ignore[call-arg]
        headers = api.headers_for("ana")
        dataset_id = create(api, headers)["id"]
        page = api.client.get(self.rows_url(dataset_id), params={"limit": 500}, headers=headers).json()
        assert page["limit"] == 7 and len(page["rows"]) == 7 and page["total"] == 25

    @pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 10_001}, {"offset": -1}, {"version": 0}])
    def test_bad_paging_is_422(
        self, api: Api, analyst_headers: dict[str, str], params: dict[str, Any]
    ) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        assert_problem(api.client.get(self.rows_url(dataset_id), params=params, headers=analyst_headers), 422)

    @pytest.mark.parametrize("table", ["nope", "DATA", "data; DROP TABLE data", "__nexus_stage_1"])
    def test_unknown_table_is_404(self, api: Api, analyst_headers: dict[str, str], table: str) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        assert_problem(api.client.get(self.rows_url(dataset_id, table), headers=analyst_headers), 404)
        assert api.client.get(self.rows_url(dataset_id), headers=analyst_headers).json()["total"] == 25

    def test_unknown_version_is_404(self, api: Api, analyst_headers: dict[str, str]) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        response = api.client.get(self.rows_url(dataset_id), params={"version": 2}, headers=analyst_headers)
        assert_problem(response, 404)


class TestVersions:
    def test_new_version_keeps_the_old_one(self, api: Api, analyst_headers: dict[str, str]) -> None:
        created = create(api, analyst_headers)
        dataset_id = created["id"]
        response = upload(
            api, analyst_headers, SALES_V2, filename="sales-v2.csv", path=f"{DATASETS}/{dataset_id}/versions"
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["id"] == dataset_id and body["version"] == 2 and body["name"] == "sales"
        assert [(v["version"], v["source_filename"]) for v in body["versions"]] == [
            (1, "sales.csv"),
            (2, "sales-v2.csv"),
        ]
        assert [c["name"] for c in body["tables"][0]["columns"]] == ["order_id", "customer", "total"]

        rows = f"{DATASETS}/{dataset_id}/tables/data/rows"
        current = api.client.get(rows, headers=analyst_headers).json()
        assert (current["version"], current["total"], current["rows"]) == (
            2,
            2,
            [[1, "ana", 10], [2, "bo", 20]],
        )
        old = api.client.get(rows, params={"version": 1}, headers=analyst_headers).json()
        assert (old["version"], old["total"], old["columns"][2]) == (1, 25, "region")
        assert len([f for f in dataset_files(api, dataset_id) if f.endswith(".duckdb")]) == 2
        assert stored_uploads(api) == []
        assert row_counts(api) == (1, 2, 2)

        listed = api.client.get(DATASETS, headers=analyst_headers).json()["items"]
        assert [(item["id"], item["version"]) for item in listed] == [(dataset_id, 2)]

    def test_third_version_numbers_on(self, api: Api, analyst_headers: dict[str, str]) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        for _ in range(2):
            upload(api, analyst_headers, SALES_V2, path=f"{DATASETS}/{dataset_id}/versions")
        body = api.client.get(f"{DATASETS}/{dataset_id}", headers=analyst_headers).json()
        assert [v["version"] for v in body["versions"]] == [1, 2, 3] and body["version"] == 3

    def test_admin_cannot_add_a_version_to_anothers_dataset(
        self, api: Api, analyst_headers: dict[str, str]
    ) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        admin = api.headers_for("boss", Role.ADMIN)
        assert_problem(upload(api, admin, SALES_V2, path=f"{DATASETS}/{dataset_id}/versions"), 404)
        assert row_counts(api) == (1, 1, 1)


class TestDelete:
    def test_delete_removes_rows_and_files(self, api: Api, analyst_headers: dict[str, str]) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        upload(api, analyst_headers, SALES_V2, path=f"{DATASETS}/{dataset_id}/versions")
        kept = create(api, analyst_headers, name="kept")["id"]
        assert row_counts(api) == (2, 3, 3)

        response = api.client.delete(f"{DATASETS}/{dataset_id}", headers=analyst_headers)
        assert response.status_code == 204 and response.content == b""
        assert not (data_dir(api) / "datasets" / dataset_id).exists()
        assert row_counts(api) == (1, 1, 1)
        assert_problem(api.client.get(f"{DATASETS}/{dataset_id}", headers=analyst_headers), 404)
        assert_problem(api.client.delete(f"{DATASETS}/{dataset_id}", headers=analyst_headers), 404)
        assert (
            api.client.get(f"{DATASETS}/{kept}/tables/data/rows", headers=analyst_headers).status_code == 200
        )

    def test_admin_may_delete_anyones(self, api: Api, analyst_headers: dict[str, str]) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        admin = api.headers_for("boss", Role.ADMIN)
        assert api.client.delete(f"{DATASETS}/{dataset_id}", headers=admin).status_code == 204
        assert row_counts(api) == (0, 0, 0)
        assert dataset_files(api, dataset_id) == []


def routes(dataset_id: str) -> list[tuple[str, str, bool]]:
    """Every route about one dataset: (method, path, is an upload)."""
    return [
        ("GET", f"{DATASETS}/{dataset_id}", False),
        ("GET", f"{DATASETS}/{dataset_id}/tables/data/rows", False),
        ("GET", f"{DATASETS}/{dataset_id}/tables/data/rows?version=1", False),
        ("POST", f"{DATASETS}/{dataset_id}/versions", True),
        ("DELETE", f"{DATASETS}/{dataset_id}", False),
    ]


ROUTE_IDS = ["get", "rows", "rows-v1", "new-version", "delete"]


def call(api: Api, method: str, path: str, is_upload: bool, headers: dict[str, str]) -> httpx.Response:
    if is_upload:
        return upload(api, headers, SALES_V2, path=path)
    return api.client.request(method, path, headers=headers)


@pytest.mark.usefixtures("database_url")
class TestOwnership:
    @pytest.mark.parametrize("route", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
    def test_another_analyst_gets_404(self, api: Api, analyst_headers: dict[str, str], route: int) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        files = dataset_files(api, dataset_id)
        intruder = api.headers_for("mallory", Role.ANALYST)
        method, path, is_upload = routes(dataset_id)[route]
        body = assert_problem(call(api, method, path, is_upload, intruder), 404)
        assert dataset_id not in body["detail"]
        # nothing changed for the owner
        assert row_counts(api) == (1, 1, 1)
        assert dataset_files(api, dataset_id) == files
        assert stored_uploads(api) == []
        assert api.client.get(f"{DATASETS}/{dataset_id}", headers=analyst_headers).json()["version"] == 1

    @pytest.mark.parametrize("route", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
    def test_random_id_is_404(self, api: Api, analyst_headers: dict[str, str], route: int) -> None:
        create(api, analyst_headers)
        method, path, is_upload = routes(str(uuid.uuid4()))[route]
        assert_problem(call(api, method, path, is_upload, analyst_headers), 404)
        assert row_counts(api) == (1, 1, 1)
        assert stored_uploads(api) == []

    def test_same_answer_for_missing_and_foreign(self, api: Api, analyst_headers: dict[str, str]) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        intruder = api.headers_for("mallory", Role.ANALYST)
        foreign = api.client.get(f"{DATASETS}/{dataset_id}", headers=intruder).json()
        missing = api.client.get(f"{DATASETS}/{uuid.uuid4()}", headers=intruder).json()
        assert (foreign["title"], foreign["type"], foreign["detail"]) == (
            missing["title"],
            missing["type"],
            missing["detail"],
        )

    def test_other_analysts_list_is_empty(self, api: Api, analyst_headers: dict[str, str]) -> None:
        create(api, analyst_headers)
        intruder = api.headers_for("mallory", Role.ANALYST)
        assert api.client.get(DATASETS, headers=intruder).json() == {
            "items": [],
            "total": 0,
            "limit": 50,
            "offset": 0,
        }


class TestViewer:
    @pytest.fixture
    def demoted(self, api: Api, analyst_headers: dict[str, str]) -> tuple[dict[str, str], str]:
        """An analyst's dataset, after the analyst was made a viewer."""
        dataset_id = create(api, analyst_headers)["id"]
        with api.runtime.sessions() as session:
            session.execute(update(User).where(User.username == "ana").values(role=Role.VIEWER))
            session.commit()
        return analyst_headers, dataset_id

    def test_viewer_can_list_get_and_preview(self, api: Api, demoted: tuple[dict[str, str], str]) -> None:
        headers, dataset_id = demoted
        assert [i["id"] for i in api.client.get(DATASETS, headers=headers).json()["items"]] == [dataset_id]
        assert api.client.get(f"{DATASETS}/{dataset_id}", headers=headers).status_code == 200
        rows = api.client.get(f"{DATASETS}/{dataset_id}/tables/data/rows", headers=headers)
        assert rows.status_code == 200 and rows.json()["total"] == 25

    def test_viewer_cannot_upload(self, api: Api, viewer_headers: dict[str, str]) -> None:
        assert_problem(upload(api, viewer_headers), 403)
        assert row_counts(api) == (0, 0, 0)
        assert stored_uploads(api) == []
        assert api.client.get(DATASETS, headers=viewer_headers).json()["total"] == 0

    def test_viewer_cannot_add_a_version_or_delete(
        self, api: Api, demoted: tuple[dict[str, str], str]
    ) -> None:
        headers, dataset_id = demoted
        files = dataset_files(api, dataset_id)
        assert_problem(upload(api, headers, SALES_V2, path=f"{DATASETS}/{dataset_id}/versions"), 403)
        assert_problem(api.client.delete(f"{DATASETS}/{dataset_id}", headers=headers), 403)
        assert row_counts(api) == (1, 1, 1)
        assert dataset_files(api, dataset_id) == files
        assert stored_uploads(api) == []

    def test_viewer_gets_404_not_403_for_anothers_dataset(
        self, api: Api, analyst_headers: dict[str, str], viewer_headers: dict[str, str]
    ) -> None:
        dataset_id = create(api, analyst_headers)["id"]
        assert_problem(api.client.get(f"{DATASETS}/{dataset_id}", headers=viewer_headers), 404)
        assert_problem(
            api.client.get(f"{DATASETS}/{dataset_id}/tables/data/rows", headers=viewer_headers), 404
        )
