"""The documents hold together: every relative link between them resolves to a file and, with
`#anchor`, to a heading of it (GitHub's anchor rules), and the README's dependency table names every
direct dependency of Cargo.toml (the project requires a reason for each)."""

import pathlib
import re
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "SECURITY.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(text, spans=False):
    """The text outside code blocks and code spans (links in examples are not links)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line if spans else re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def anchors(path):
    """GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped, spaces to -."""
    seen, found = {}, set()
    for line in prose(path.read_text(encoding="utf-8"), spans=True).splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def broken_links():
    broken = []
    for doc in DOCS:
        for target in LINK.findall(prose(doc.read_text(encoding="utf-8"))):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            where = f"{doc.relative_to(ROOT)}: {target}"
            if not path.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                broken.append(f"{where} (no such heading)")
    return broken


def test_links_between_the_documents_resolve():
    broken = broken_links()
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_gives_a_reason_for_every_direct_dependency():
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))
    wanted = set(cargo.get("dependencies", {})) | set(cargo.get("dev-dependencies", {})) | set(cargo.get("build-dependencies", {}))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.partition("## Dependencies")[2].partition("\n## ")[0]
    named = set()
    for row in section.splitlines():
        if row.startswith("| ") and not row.startswith("|---"):
            first = row.split("|")[1]
            named |= {re.sub(r"\s*\(.*?\)", "", n).strip() for n in first.split(",")}
    missing = sorted(wanted - named)
    assert not missing, f"README.md's dependency table lacks: {', '.join(missing)}"


if __name__ == "__main__":
    for line in broken_links():
        print(line)
    test_readme_gives_a_reason_for_every_direct_dependency()
    print("dependencies ok")
