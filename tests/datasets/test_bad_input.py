"""Bad uploads get a clear 4xx and leave nothing behind; failures mid-ingestion leave nothing either."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from nexus.config import DatasetSettings
from nexus.datasets import endpoints as dataset_endpoints
from nexus.datasets.ingest import pipeline
from nexus.datasets.ingest.base import IngestError
from nexus.datasets.models import Dataset, VersionStatus
from nexus.datasets.service import DatasetService, sweep_interrupted
from nexus.datasets.storage import DatasetStore
from nexus.users.models import User
from tests.fixtures.app import Api, ApiFactory
from tests.fixtures.datasets import data_dir, ingesting_version, row_counts

DATASETS = "/api/v1/datasets"
PROBLEM = "application/problem+json"
GOOD_CSV = b"id,amount\n1,10\n2,20\n3,30\n"
BOUNDARY = "nexus-test-boundary-7d1f"


# --- helpers -------------------------------------------------------------------------------------


def settings(**values: Any) -> DatasetSettings:
    return DatasetSettings(_env_file=None, **values)  # type: ignore[call-arg]


def upload(
    api: Api, headers: dict[str, str], content: bytes, filename: str = "data.csv", path: str = DATASETS
) -> httpx.Response:
    return api.client.post(
        path, files={"file": (filename, content, "application/octet-stream")}, headers=headers
    )


def part(name: str, content: bytes, filename: bytes | None = None) -> bytes:
    """One multipart part, written byte for byte (no escaping of the file name)."""
    disposition = b'form-data; name="' + name.encode() + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    return (
        b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: " + disposition + b"\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    )


def multipart(*parts: bytes, closed: bool = True) -> bytes:
    return b"".join(parts) + (b"--" + BOUNDARY.encode() + b"--\r\n" if closed else b"")


def post_raw(
    api: Api, headers: dict[str, str], body: bytes, content_type: str | None = None, path: str = DATASETS
) -> httpx.Response:
    content_type = content_type or f"multipart/form-data; boundary={BOUNDARY}"
    return api.client.post(path, content=body, headers={**headers, "Content-Type": content_type})


def leftover_files(api: Api) -> list[str]:
    """Every file under data_dir/datasets and data_dir/uploads."""
    found = []
    for folder in ("datasets", "uploads"):
        root = data_dir(api) / folder
        if root.exists():
            found += [str(p.relative_to(data_dir(api))) for p in root.rglob("*") if not p.is_dir()]
    return sorted(found)


def dataset_dirs(api: Api) -> list[str]:
    root = data_dir(api) / "datasets"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def assert_nothing_stored(api: Api) -> None:
    assert row_counts(api) == (0, 0, 0)
    assert leftover_files(api) == []
    assert dataset_dirs(api) == []


def assert_problem(response: httpx.Response, status: int, *phrases: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert "Traceback" not in body["detail"]
    for phrase in phrases:
        assert phrase.lower() in body["detail"].lower(), body["detail"]
    return body


# --- files that are not tables -------------------------------------------------------------------

XLSX_NOT_ZIP = b"PK\x03\x04" + b"\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4
GARBAGE = bytes((i * 7919 + 13) % 256 for i in range(8192))
BAD_FILES = [
    pytest.param("empty.csv", b"", ("empty",), id="empty"),
    pytest.param("blank.csv", b"\n\n   \r\n", ("empty",), id="only-blank-lines"),
    pytest.param("header.csv", b"id,amount\n", ("no rows",), id="header-only"),
    pytest.param("garbage.csv", GARBAGE, ("not text",), id="binary-garbage-csv"),
    pytest.param("book.xlsx", GARBAGE, ("not text",), id="xlsx-random-bytes"),
    pytest.param("book.xlsx", XLSX_NOT_ZIP, ("zip", "damaged"), id="xlsx-damaged-zip"),
    pytest.param("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), (".xls",), id="old-xls"),
    pytest.param("number.json", b"42", ("JSON", "not a table"), id="json-number"),
    pytest.param("text.json", b'"hello"', ("JSON", "not a table"), id="json-string"),
    pytest.param("nested.json", b'{"a": {"b": 1}}', ("JSON", "not a table"), id="json-object-of-objects"),
    pytest.param("numbers.json", b"[1, 2, 3]", ("JSON", "not a table"), id="json-array-of-numbers"),
    pytest.param("emptylist.json", b"[]", ("JSON", "empty"), id="json-empty-array"),
    pytest.param("broken.json", b'[{"a": 1}, {"a": ', ("JSON",), id="json-cut-off"),
]


class TestNotATable:
    @pytest.mark.parametrize(("filename", "content", "phrases"), BAD_FILES)
    def test_clear_422_and_nothing_stored(
        self,
        api: Api,
        analyst_headers: dict[str, str],
        filename: str,
        content: bytes,
        phrases: tuple[str, ...],
    ) -> None:
        body = assert_problem(upload(api, analyst_headers, content, filename), 422, *phrases)
        assert body["type"].endswith("/ingest-error")
        assert_nothing_stored(api)

    @pytest.mark.parametrize(("filename", "content", "phrases"), BAD_FILES[:4])
    def test_bad_new_version_keeps_the_dataset_as_it_was(
        self,
        api: Api,
        analyst_headers: dict[str, str],
        filename: str,
        content: bytes,
        phrases: tuple[str, ...],
    ) -> None:
        created = upload(api, analyst_headers, GOOD_CSV)
        assert created.status_code == 201
        dataset_id = created.json()["id"]
        files = leftover_files(api)
        response = upload(api, analyst_headers, content, filename, path=f"{DATASETS}/{dataset_id}/versions")
        assert_problem(response, 422, *phrases)
        assert row_counts(api) == (1, 1, 1)
        assert leftover_files(api) == files
        after = api.client.get(f"{DATASETS}/{dataset_id}", headers=analyst_headers).json()
        assert after["version"] == 1 and [v["version"] for v in after["versions"]] == [1]


class TestLimits:
    @pytest.mark.parametrize("megabytes", [1.5, 3], ids=["over-file-limit", "over-body-limit"])
    def test_over_the_upload_limit_is_413(self, api_factory: ApiFactory, megabytes: float) -> None:
        api = api_factory(datasets=settings(max_upload_mb=1))
        headers = api.headers_for("ana")
        row = b"1234567890,abcdefghij,2024-01-01\n"
        content = b"n,s,d\n" + row * int(megabytes * 1_048_576 / len(row))
        assert_problem(upload(api, headers, content), 413, "limit")
        assert_nothing_stored(api)

    def test_just_under_the_limit_is_accepted(self, api_factory: ApiFactory) -> None:
        api = api_factory(datasets=settings(max_upload_mb=1))
        headers = api.headers_for("ana")
        row = b"1234567890,abcdefghij\n"
        content = b"n,s\n" + row * ((1_048_576 - 10) // len(row))
        assert len(content) <= 1_048_576
        assert upload(api, headers, content).status_code == 201

    def test_too_many_columns(self, api_factory: ApiFactory) -> None:
        api = api_factory(datasets=settings(max_columns=500))
        headers = api.headers_for("ana")
        header = ",".join(f"c{i}" for i in range(10_000)).encode()
        row = ",".join(str(i % 10) for i in range(10_000)).encode()
        response = upload(api, headers, header + b"\n" + row + b"\n" + row + b"\n")
        assert_problem(response, 422, "10000 columns", "limit is 500")
        assert_nothing_stored(api)


class TestFileNames:
    @pytest.mark.parametrize(
        ("raw", "stored"),
        [
            (b"../../etc/passwd.csv", "passwd.csv"),
            (b"../sales.csv", "sales.csv"),
            (b"/abs/path/sales.csv", "sales.csv"),
            (b"..\\..\\windows\\sales.csv", "sales.csv"),
            (b"C:\\Users\\ana\\sales.csv", "sales.csv"),
        ],
    )
    def test_directories_are_stripped(
        self, api: Api, analyst_headers: dict[str, str], raw: bytes, stored: str
    ) -> None:
        response = post_raw(api, analyst_headers, multipart(part("file", GOOD_CSV, raw)))
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["versions"][0]["source_filename"] == stored
        assert "/" not in body["name"] and "\\" not in body["name"]
        assert body["name"] == stored.removesuffix(".csv")
        # the name was never used as a path: no file of that name anywhere
        assert not list(data_dir(api).parent.rglob(stored))
        assert not list(data_dir(api).parent.parent.glob("etc"))

    @pytest.mark.parametrize(
        ("raw", "phrase"),
        [
            (b"sales\x00.csv", "control characters"),
            (b"sales.csv\x00../../x", "control characters"),
            (b"a" * 296 + b".csv", "longer than 255"),
            (b"../", "no file name"),
            (b"", "no file name"),
        ],
        ids=["nul", "nul-then-path", "300-chars", "only-dots", "empty"],
    )
    def test_unacceptable_names_are_422(
        self, api: Api, analyst_headers: dict[str, str], raw: bytes, phrase: str
    ) -> None:
        response = post_raw(api, analyst_headers, multipart(part("file", GOOD_CSV, raw)))
        assert_problem(response, 422, phrase)
        assert_nothing_stored(api)

    def test_dataset_name_with_nul_is_422(self, api: Api, analyst_headers: dict[str, str]) -> None:
        body = multipart(part("name", b"bad\x00name"), part("file", GOOD_CSV, b"ok.csv"))
        assert_problem(post_raw(api, analyst_headers, body), 422, "NUL")
        assert_nothing_stored(api)

    def test_dataset_name_over_255_is_422(self, api: Api, analyst_headers: dict[str, str]) -> None:
        body = multipart(part("name", b"n" * 300), part("file", GOOD_CSV, b"ok.csv"))
        assert_problem(post_raw(api, analyst_headers, body), 422, "255")
        assert_nothing_stored(api)


class TestMalformedRequests:
    def test_cut_off_mid_stream_is_400(self, api: Api, analyst_headers: dict[str, str]) -> None:
        body = multipart(part("file", GOOD_CSV * 100, b"data.csv"), closed=False)
        assert_problem(post_raw(api, analyst_headers, body), 400, "cut off")
        assert_nothing_stored(api)

    def test_cut_off_inside_the_file_is_400(self, api: Api, analyst_headers: dict[str, str]) -> None:
        body = multipart(part("file", GOOD_CSV * 100, b"data.csv"))
        assert_problem(post_raw(api, analyst_headers, body[: len(body) // 2]), 400, "cut off")
        assert_nothing_stored(api)

    def test_garbage_body_is_400(self, api: Api, analyst_headers: dict[str, str]) -> None:
        response = post_raw(api, analyst_headers, b"--" + BOUNDARY.encode() + b"\r\nno headers here\x00\x01")
        assert response.status_code in {400, 422}, response.text
        assert_problem(response, response.status_code)
        assert_nothing_stored(api)

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            ("application/json", b'{"file": "id,amount\\n1,2\\n"}'),
            ("text/csv", GOOD_CSV),
            ("application/x-www-form-urlencoded", b"file=id%2Camount"),
            ("multipart/form-data", GOOD_CSV),  # no boundary
        ],
        ids=["json", "csv", "urlencoded", "multipart-without-boundary"],
    )
    def test_not_multipart_is_415(
        self, api: Api, analyst_headers: dict[str, str], content_type: str, body: bytes
    ) -> None:
        assert_problem(post_raw(api, analyst_headers, body, content_type), 415, "multipart/form-data")
        assert_nothing_stored(api)

    def test_no_body_at_all_is_415(self, api: Api, analyst_headers: dict[str, str]) -> None:
        assert_problem(api.client.post(DATASETS, headers=analyst_headers), 415)
        assert_nothing_stored(api)

    @pytest.mark.parametrize(
        "parts",
        [
            (part("name", b"only a name"),),
            (part("upload", GOOD_CSV, b"data.csv"),),
            (part("file", GOOD_CSV),),  # a plain field called file, not a file
            (),
        ],
        ids=["name-only", "wrong-part-name", "file-without-filename", "no-parts"],
    )
    def test_multipart_without_a_file_part_is_422(
        self, api: Api, analyst_headers: dict[str, str], parts: tuple[bytes, ...]
    ) -> None:
        assert_problem(post_raw(api, analyst_headers, multipart(*parts)), 422, "`file` part")
        assert_nothing_stored(api)

    def test_two_files_is_422(self, api: Api, analyst_headers: dict[str, str]) -> None:
        body = multipart(part("file", GOOD_CSV, b"a.csv"), part("file", GOOD_CSV, b"b.csv"))
        assert_problem(post_raw(api, analyst_headers, body), 422, "one file")
        assert_nothing_stored(api)

    def test_long_text_field_is_422(self, api: Api, analyst_headers: dict[str, str]) -> None:
        body = multipart(part("name", b"x" * 5000), part("file", GOOD_CSV, b"a.csv"))
        assert_problem(post_raw(api, analyst_headers, body), 422, "too long")
        assert_nothing_stored(api)


# --- atomicity -----------------------------------------------------------------------------------


class Boom(RuntimeError):
    """An unexpected failure injected by a test."""


@pytest.mark.usefixtures("database_url")
class TestAtomicity:
    @pytest.fixture
    def files_at_commit(self, monkeypatch: pytest.MonkeyPatch, api: Api) -> list[list[str]]:
        """Make the commit fail; record which files existed right before it."""
        seen: list[list[str]] = []

        def fail(_self: DatasetService) -> None:
            seen.append(leftover_files(api))
            raise Boom("injected before commit")

        monkeypatch.setattr(DatasetService, "before_commit", fail)
        return seen

    def test_failure_before_commit_leaves_nothing(
        self, api: Api, analyst_headers: dict[str, str], files_at_commit: list[list[str]]
    ) -> None:
        response = upload(api, analyst_headers, GOOD_CSV)
        body = assert_problem(response, 500)
        assert "injected" not in body["detail"]
        (seen,) = files_at_commit
        assert any(name.endswith(".duckdb") for name in seen), seen  # the table file had been written
        assert_nothing_stored(api)
        assert api.client.get(DATASETS, headers=analyst_headers).json()["total"] == 0

    def test_failure_before_commit_of_a_version_keeps_version_1(
        self, api: Api, analyst_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        created = upload(api, analyst_headers, GOOD_CSV)
        assert created.status_code == 201
        dataset_id = created.json()["id"]
        files = leftover_files(api)

        def fail(_self: DatasetService) -> None:
            raise Boom("injected before commit")

        monkeypatch.setattr(DatasetService, "before_commit", fail)
        response = upload(api, analyst_headers, b"x,y\n1,2\n", path=f"{DATASETS}/{dataset_id}/versions")
        assert_problem(response, 500)
        assert row_counts(api) == (1, 1, 1)
        assert leftover_files(api) == files
        with api.runtime.sessions() as session:
            dataset = session.get(Dataset, uuid.UUID(dataset_id))
            assert dataset is not None and dataset.current_version == 1
        monkeypatch.undo()
        rows = api.client.get(f"{DATASETS}/{dataset_id}/tables/data/rows", headers=analyst_headers).json()
        assert rows["version"] == 1 and rows["total"] == 3
        again = upload(api, analyst_headers, b"x,y\n1,2\n", path=f"{DATASETS}/{dataset_id}/versions")
        assert again.status_code == 201 and again.json()["version"] == 2

    @pytest.mark.parametrize(
        ("error", "status"),
        [(Boom("injected in ingestion"), 500), (IngestError("The table is unusable."), 422)],
        ids=["unexpected", "ingest-error"],
    )
    def test_failure_inside_ingestion_leaves_nothing(
        self,
        api: Api,
        analyst_headers: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
        error: Exception,
        status: int,
    ) -> None:
        written: list[list[str]] = []

        def fail(*_args: Any, **_kwargs: Any) -> None:
            written.append(leftover_files(api))
            raise error

        monkeypatch.setattr(pipeline, "_finish_table", fail)
        response = upload(api, analyst_headers, GOOD_CSV)
        body = assert_problem(response, status)
        if status == 422:
            assert body["detail"] == "The table is unusable."
        (seen,) = written
        assert any(name.endswith(".duckdb.tmp") for name in seen), seen  # the DuckDB file was open
        assert_nothing_stored(api)

    def test_failure_while_publishing_leaves_nothing(
        self, api: Api, analyst_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def fail(_self: DatasetStore, _temporary: Path, _final: Path) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(DatasetStore, "publish", fail)
        assert_problem(upload(api, analyst_headers, GOOD_CSV), 500)
        assert_nothing_stored(api)


@pytest.mark.usefixtures("database_url")
class TestStartupSweep:
    def interrupted_upload(self, api: Api, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
        """An upload whose process 'dies' after publishing, before the commit: no clean-up runs."""
        with monkeypatch.context() as patch:

            def die(_self: DatasetService) -> None:
                raise Boom("killed")

            patch.setattr(DatasetService, "before_commit", die)
            patch.setattr(DatasetService, "_forget", lambda *_args: None)
            patch.setattr(DatasetStore, "discard", staticmethod(lambda *_paths: None))
            patch.setattr(dataset_endpoints, "remove_upload", lambda _path: None)
            assert upload(api, headers, b"a,b\n1,2\n", filename="interrupted.csv").status_code == 500

    def test_sweep_removes_leftovers_and_keeps_ready_datasets(
        self, api: Api, analyst_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ready = upload(api, analyst_headers, GOOD_CSV, filename="ready.csv").json()
        ready_id = uuid.UUID(ready["id"])
        ready_files = leftover_files(api)
        store = DatasetStore(data_dir(api))

        # 1. a real interrupted upload (rows left 'ingesting', a published file, the received upload)
        self.interrupted_upload(api, analyst_headers, monkeypatch)
        # 2. rows and files left by hand as a kill would leave them
        with api.runtime.sessions() as session:
            owner = session.scalar(select(User).where(User.username == "ana"))
            assert owner is not None
            orphan = Dataset(owner_id=owner.id, name="killed")
            session.add(orphan)
            killed = ingesting_version(dataset=orphan, progress=0.4, filename="killed.csv")
            pending = ingesting_version(dataset_id=ready_id, version=2, progress=0.7, filename="pending.csv")
            session.add_all([killed, pending])
            session.commit()
            orphan_id, killed_id, pending_id = orphan.id, killed.id, pending.id
        store.temporary_path(orphan_id, killed_id).write_bytes(b"half a duckdb file")
        store.temporary_path(ready_id, pending_id).write_bytes(b"half a duckdb file")
        (store.root / str(ready_id) / f"{uuid.uuid4()}.duckdb").write_bytes(b"no row for this one")
        (store.root / str(ready_id) / f"{pending_id}.duckdb.tmp.spill").mkdir()
        (store.root / str(uuid.uuid4())).mkdir()
        store.new_upload_path().write_bytes(b"a received upload")
        assert row_counts(api) == (3, 4, 1)
        assert len(leftover_files(api)) > len(ready_files) + 4

        removed = sweep_interrupted(api.runtime.sessions, store)

        assert removed == 8  # 2 uploads, 3 dead dataset folders, 3 stray entries in the live one
        assert row_counts(api) == (1, 1, 1)
        assert leftover_files(api) == ready_files
        assert dataset_dirs(api) == [str(ready_id)]
        with api.runtime.sessions() as session:
            survivor = session.get(Dataset, ready_id)
            assert survivor is not None and survivor.current_version == 1
            assert [(v.version, v.status) for v in survivor.versions] == [(1, VersionStatus.READY)]
        page = api.client.get(f"{DATASETS}/{ready_id}/tables/data/rows", headers=analyst_headers).json()
        assert page["total"] == 3
        listed = api.client.get(DATASETS, headers=analyst_headers).json()
        assert [item["id"] for item in listed["items"]] == [str(ready_id)]
        assert sweep_interrupted(api.runtime.sessions, store) == 0

    def test_sweep_on_an_empty_data_dir(self, api: Api) -> None:
        assert sweep_interrupted(api.runtime.sessions, DatasetStore(data_dir(api))) == 0
        assert_nothing_stored(api)

    def test_new_version_after_sweep_numbers_on(self, api: Api, analyst_headers: dict[str, str]) -> None:
        ready = upload(api, analyst_headers, GOOD_CSV).json()
        with api.runtime.sessions() as session:
            session.add(ingesting_version(dataset_id=uuid.UUID(ready["id"]), version=2, progress=0.1))
            session.commit()
        sweep_interrupted(api.runtime.sessions, DatasetStore(data_dir(api)))
        response = upload(api, analyst_headers, GOOD_CSV, path=f"{DATASETS}/{ready['id']}/versions")
        assert response.status_code == 201 and response.json()["version"] == 2
        assert [v["version"] for v in response.json()["versions"]] == [1, 2]


class TestViewer:
    def test_viewer_upload_is_403_before_reading_the_body(
        self, api: Api, viewer_headers: dict[str, str]
    ) -> None:
        assert_problem(upload(api, viewer_headers, GOOD_CSV), 403)
        assert_nothing_stored(api)

    def test_viewer_with_bad_body_is_still_403(self, api: Api, viewer_headers: dict[str, str]) -> None:
        assert_problem(post_raw(api, viewer_headers, b"junk", "text/plain"), 403)
        assert_nothing_stored(api)
