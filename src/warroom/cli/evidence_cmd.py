"""`warroom evidence …`: add, list, get and hand over evidence over HTTP; verify locally."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from warroom.cli.api_calls import api_client, api_request
from warroom.cli.common import errors_as_exit, fail, print_json, settings_of
from warroom.cli.incident import API, Ref

if TYPE_CHECKING:
    import httpx

evidence_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="Evidence of an incident: files kept by their SHA-256, with a chain of custody.",
    no_args_is_help=True,
)

Item = Annotated[
    str, typer.Argument(metavar="NAME|ID", help="The evidence's name, or its id from `list`.")
]
Version = Annotated[
    int | None, typer.Option(min=1, help="Which version of NAME (default: the newest).")
]
Json = Annotated[bool, typer.Option("--json", help="Print the server's JSON response.")]
PROGRESS_FROM = 8 << 20  # smaller files go up before a bar would be worth drawing


def _error_of(response: "httpx.Response") -> str:
    """Return the server's error message from a failed streamed request."""
    try:
        response.read()
        message = str(response.json()["error"]["message"])
    except Exception:
        message = f"HTTP {response.status_code}: {response.text[:200]}"
    if response.status_code == 401:
        message += " (check WARROOM_TOKEN)"
    return " ".join(message.split())


def _progress(total: int) -> Any:
    """Return a Rich progress bar on stderr, or None when stderr is no terminal or it is small."""
    if total < PROGRESS_FROM or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


@evidence_app.command("add")
def add(
    ref: Ref,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", exists=True, dir_okay=False, readable=True, help="The file to keep."
        ),
    ],
    note: Annotated[str, typer.Option(help="What it is and where it came from.")] = "",
    name: Annotated[
        str | None, typer.Option(help="The name to keep it under (default: the file's).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Upload a file as evidence; it is hashed on the way and kept by its SHA-256."""
    import httpx

    from warroom.cli.upload import multipart

    size = file.stat().st_size
    bar = _progress(size)
    task = bar.add_task("upload", total=size) if bar else None
    fields = {"note": note} | ({"name": name} if name else {})
    content_type, length, body = multipart(
        file,
        filename=file.name,
        fields=fields,
        progress=(lambda n: bar.advance(task, n)) if bar else None,
    )
    client = api_client()
    try:
        if bar:
            bar.start()
        response = client.http.post(
            f"{API}/{ref}/evidence",
            content=body,
            headers={"Content-Type": content_type, "Content-Length": str(length)},
            timeout=httpx.Timeout(60.0, write=300.0),
        )
    except httpx.HTTPError as exc:
        fail(f"cannot upload to {client.base_url}: {exc}")
    finally:
        if bar:
            bar.stop()
        client.close()
    if response.status_code != 201:
        fail(_error_of(response))
    item = response.json()
    if as_json:
        print_json(item)
        return
    typer.echo(
        f"{item['incident']}: kept {item['name']} version {item['version']} as evidence "
        f"{item['id']} ({item['size']} bytes, SHA-256 {item['sha256']})"
    )


def _size(value: int) -> str:
    """Return a byte count for people: 512 B, 3.2 MiB."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    amount, unit = float(value), 0
    while amount >= 1024 and unit < len(units) - 1:
        amount, unit = amount / 1024, unit + 1
    return f"{value} B" if unit == 0 else f"{amount:.1f} {units[unit]}"


@evidence_app.command("list")
def list_(ref: Ref, as_json: Json = False) -> None:
    """List an incident's evidence: every version, with its size and SHA-256."""
    from rich.console import Console
    from rich.table import Table

    items = api_request("GET", f"{API}/{ref}/evidence")
    if as_json:
        print_json(items)
        return
    if not items:
        typer.echo(f"{ref} has no evidence yet; add some with `warroom evidence add {ref} FILE`")
        return
    table = Table("id", "name", "version", "size", "SHA-256", "collected by", "collected (UTC)")
    for item in items:
        table.add_row(
            str(item["id"]),
            item["name"],
            str(item["version"]),
            _size(item["size"]),
            item["sha256"][:16] + "…",
            item["collected_by"],
            item["collected_at"][:19].replace("T", " "),
        )
    Console(markup=False, highlight=False).print(table)


def _find(ref: str, wanted: str, version: int | None) -> dict[str, Any]:
    """Return the item `wanted` names (an id, or a name and version) from the list."""
    items: list[dict[str, Any]] = api_request("GET", f"{API}/{ref}/evidence")
    if wanted.isdigit() and version is None:
        found = [item for item in items if item["id"] == int(wanted)]
        if found:
            return found[0]
    named = [item for item in items if item["name"] == wanted]
    if version is not None:
        named = [item for item in named if item["version"] == version]
    if not named:
        which = f" version {version}" if version is not None else ""
        fail(f"{ref} has no evidence {wanted!r}{which}; see `warroom evidence list {ref}`")
    return max(named, key=lambda item: int(item["version"]))


@evidence_app.command("get")
def get(
    ref: Ref,
    item: Item,
    version: Version = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write it (default: its name, here)."),
    ] = None,
) -> None:
    """Download evidence; its SHA-256 is checked on arrival, and a mismatch keeps nothing."""
    import hashlib
    import os
    import tempfile

    import httpx

    found = _find(ref, item, version)
    from warroom.core.text import show_bidi

    # A bare name, never a path from the server, with no bidi control to disguise it.
    target = output or Path(Path(show_bidi(found["name"])).name)
    if target.exists():
        fail(f"{target} exists already; choose another file with -o")
    folder = target.parent if str(target.parent) else Path()
    client = api_client()
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as handle:
            url = f"{API}/{ref}/evidence/{found['id']}/content"
            with client.http.stream("GET", url, timeout=httpx.Timeout(60.0)) as response:
                if response.status_code != 200:
                    fail(_error_of(response))
                for chunk in response.iter_bytes(1 << 20):
                    digest.update(chunk)
                    handle.write(chunk)
        got = digest.hexdigest()
        if got != found["sha256"]:
            fail(
                f"what arrived hashes to {got}, not the evidence's {found['sha256']}: "
                "nothing was kept; try again"
            )
        os.replace(temp, target)
    except httpx.HTTPError as exc:
        fail(f"cannot download from {client.base_url}: {exc}")
    finally:
        Path(temp).unlink(missing_ok=True)
        client.close()
    typer.echo(f"wrote {target} ({found['size']} bytes, SHA-256 {found['sha256']}: matches)")


@evidence_app.command("custody")
def custody(ref: Ref, item: Item, version: Version = None, as_json: Json = False) -> None:
    """Show an item's chain of custody: who, when (in their zone), what, where."""
    found = _find(ref, item, version)
    if as_json:
        print_json(found["custody"])
        return
    typer.echo(
        f"{found['name']} version {found['version']} (evidence {found['id']}), "
        f"SHA-256 {found['sha256']}"
    )
    for entry in found["custody"]:
        note = f" — {entry['note']}" if entry["note"] else ""
        typer.echo(
            f"  {entry['local_time']} ({entry['timezone']})  {entry['action']} by "
            f"{entry['who']}, at {entry['location']}{note}"
        )


@evidence_app.command("transfer")
def transfer(
    ref: Ref,
    item: Item,
    to: Annotated[str, typer.Option("--to", help="Where the evidence is now, or who holds it.")],
    version: Version = None,
    note: Annotated[str, typer.Option(help="Why, or under what agreement.")] = "",
) -> None:
    """Record a hand-over of evidence on its chain of custody."""
    found = _find(ref, item, version)
    body = {"location": to, "note": note}
    api_request("POST", f"{API}/{ref}/evidence/{found['id']}/custody", body)
    typer.echo(f"recorded: {found['name']} version {found['version']} transferred to {to}")


@evidence_app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Re-hash every stored evidence file (local database and files); exit 1 on a mismatch."""
    from warroom.cli.common import local_admin, local_runtime

    with errors_as_exit(), local_admin() as actor:
        runtime = local_runtime(settings_of(ctx))
        findings = runtime.evidence.verify(actor=actor)
        leftovers = runtime.evidence.store.leftovers()
    bad = [f for f in findings if f.problem]
    for finding in bad:
        typer.echo(
            f"MISMATCH {finding.incident} evidence {finding.item_id} ({finding.name}, version "
            f"{finding.version}, SHA-256 {finding.sha256}): {finding.problem}"
        )
    if leftovers:
        typer.echo(
            f"note: {len(leftovers)} unfinished upload file(s) in {runtime.evidence.store.root} "
            "(.upload-*.tmp, from a stopped server); no evidence row names them"
        )
    if bad:
        fail(f"{len(bad)} of {len(findings)} evidence file(s) do not match their SHA-256")
    typer.echo(f"checked {len(findings)} evidence file(s): every one matches its SHA-256")
