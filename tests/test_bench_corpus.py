"""The evaluation's repository → site layout keeps a folder page's links working."""

from __future__ import annotations

import sys
from pathlib import Path

from ingest.parse import parse_page

sys.path.append(str(Path(__file__).resolve().parent.parent / "bench"))

from corpus import prepare, rebase_links


def test_a_folder_pages_relative_links_point_where_they_did(tmp_path: Path) -> None:
    """`tools/README.md` is published at `/tools`; its "trackers/jira.md" still means
    `/tools/trackers/jira`, not `/trackers/jira`."""
    repo = tmp_path / "repo"
    (repo / "tools" / "trackers").mkdir(parents=True)
    (repo / "SUMMARY.md").write_text(
        "# Summary\n\n* [Tools](tools/README.md)\n  * [Jira](tools/trackers/jira.md)\n"
    )
    (repo / "tools" / "README.md").write_text(
        "# Tools\n\nSee [Jira](trackers/jira.md), [home](../README.md#top), "
        "[site](https://x.test/a), [here](#setup) and ![logo](../.gitbook/assets/l.png).\n\n"
        '{% content-ref url="trackers/jira.md" %}\n[jira.md](trackers/jira.md)\n'
        "{% endcontent-ref %}\n"
    )
    (repo / "tools" / "trackers" / "jira.md").write_text("# Jira\n\nConnect Jira.\n")
    prepare(repo, "d.test", tmp_path / "out")
    written = (tmp_path / "out" / "d.test" / "tools.md").read_text()
    page = parse_page(written, "https://d.test/tools")
    text = "\n".join(s.text for s in page.sections)
    assert "(https://d.test/tools/trackers/jira)" in text
    assert "(https://d.test/trackers/jira)" not in text
    assert "(https://d.test#top)" in text  # the site root's README is the site root
    assert "(https://x.test/a)" in text
    # a page that is not a folder's README is copied as it is
    assert (tmp_path / "out" / "d.test" / "tools" / "trackers" / "jira.md").read_text() == (
        "# Jira\n\nConnect Jira.\n"
    )


def test_only_relative_targets_are_rebased() -> None:
    md = '[a](b.md) [c](<d e.md>) [f](/g) [h](mailto:x@y.z) <img src="i.png"> [j](#k)'
    assert rebase_links(md, "dir") == (
        '[a](dir/b.md) [c](<dir/d e.md>) [f](/g) [h](mailto:x@y.z) <img src="dir/i.png"> [j](#k)'
    )
