"""`connector deliveries list --limit` outside 1-100,000 (outside-in QA).

`--limit -1` listed every delivery (SQLite reads LIMIT -1 as no limit; PostgreSQL refuses a
negative LIMIT) and `--limit 0` printed "no deliveries" over a full outbox. Both are now a
usage error naming the option, as `connector report --limit` is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from tests.support.config import write_config


@pytest.mark.parametrize(
    ("limit", "code"), [("-1", 2), ("0", 2), ("100001", 2), ("1", 0), ("100000", 0)]
)
def test_deliveries_list_limit_must_be_from_1_to_100000(
    tmp_path: Path, limit: str, code: int
) -> None:
    """A limit under 1 or over 100,000 is a usage error naming --limit; 1 and 100,000 run."""
    config = write_config(tmp_path, "http://127.0.0.1:9/unused")
    result = CliRunner().invoke(
        main, ["deliveries", "list", "--config", str(config), "--limit", limit]
    )
    assert result.exit_code == code, result.output
    if code:
        assert "--limit" in result.output
