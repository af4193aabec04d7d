"""Ingestion progress: reported in order, and written to the version row for a dashboard to poll."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from nexus.datasets.ingest.pipeline import IngestOptions, ingest_file
from nexus.datasets.models import Dataset, DatasetVersion
from nexus.datasets.service import _ProgressWriter
from nexus.users.models import Role
from tests.fixtures.app import Api
from tests.fixtures.datasets import ingesting_version


class TestProgressCallback:
    def test_phases_are_reported_in_order(self, tmp_path: Path) -> None:
        source = tmp_path / "big.csv"
        with source.open("w") as handle:
            handle.write("id,amount,day\n")
            for i in range(50_000):
                handle.write(f'{i},"RM {i:,}.25",{(i % 28) + 1:02d}/01/2024\n')
        seen: list[tuple[float, str]] = []
        ingest_file(
            source, tmp_path / "out.duckdb", IngestOptions(), lambda f, phase: seen.append((f, phase))
        )
        fractions = [f for f, _ in seen]
        assert fractions == sorted(fractions)
        assert 0 < fractions[0] < 0.1 and fractions[-1] >= 0.95
        assert {"detected", "typing", "profiling"} <= {phase for _, phase in seen}


class TestProgressWriter:
    def test_progress_reaches_the_version_row(self, api: Api) -> None:
        user = api.add_user("ana", Role.ANALYST)
        with api.runtime.sessions() as session:
            dataset = Dataset(owner_id=user.id, name="slow")
            version = ingesting_version(dataset=dataset, filename="slow.csv")
            session.add_all([dataset, version])
            session.commit()
            version_id = version.id
        writer = _ProgressWriter(api.runtime.sessions, version_id)
        writer(0.42, "reading")
        writer(0.9, "typing")  # within half a second of the last write: skipped
        with api.runtime.sessions() as session:
            assert (
                session.scalar(select(DatasetVersion.progress).where(DatasetVersion.id == version_id)) == 0.42
            )
        headers = {"Authorization": f"Bearer {api.login('ana')['access_token']}"}
        listed = api.client.get("/api/v1/datasets", headers=headers).json()["items"]
        assert listed[0]["status"] == "ingesting" and listed[0]["progress"] == 0.42
