"""`nigran export`, `nigran verify` and `nigran keys`: evidence bundles, their verification, the signing key."""
from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from nigran.crawler.cli_common import (CATEGORIES, db_option, evidence_home_or_exit, fail, iso_datetime, json_option,
                                       open_db, out, print_json_line, setting_option, source_filter_option)


def _no_controls(_ctx, _param, value: str | None) -> str | None:
    """Refuse an option value with control characters (it goes into the manifest and custody)."""
    if value is not None and re.search(r"[\x00-\x1f\x7f]", value):
        raise click.BadParameter("must be one line of printable text")
    return value


@click.command()
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path),
              help="Where to write the bundle (a .zip, or a folder with --dir); never overwritten.")
@click.option("--dir", "as_dir", is_flag=True, help="Write a folder instead of a zip.")
@click.option("--case", default=None, callback=_no_controls, help="Case name, shown in the manifest and report.")
@click.option("--operator", required=True, callback=_no_controls, help="Who makes this export (recorded in custody).")
@click.option("--since", help="Offers seen at or after this ISO-8601 time (UTC unless zoned).")
@click.option("--until", help="Offers first seen at or before this ISO-8601 time.")
@source_filter_option
@click.option("--category", "categories", multiple=True, type=click.Choice(CATEGORIES), help="Only this category (repeatable).")
@click.option("--offer", "offer_ids", multiple=True, type=int, help="Only this offer id (repeatable).")
@click.option("--profile", type=click.Choice(["full", "redacted"]), default="full", show_default=True,
              help="full includes the raw captures (WACZ); redacted keeps only their hashes.")
@setting_option("NIGRAN_REQUIRE_TIMESTAMP", "require_timestamp", is_flag=True)
@db_option
@json_option
def export(out_path, as_dir, case, operator, since, until, sources, categories, offer_ids, profile, require_timestamp,
           db_url, as_json):
    """Write a signed evidence bundle of the selected offers and their captures, with the evidence and key of
    the data home the database recorded.

    Exit status: 0 written, 1 nothing selected, the evidence could not be read, a required time-stamp not
    taken, or $NIGRAN_HOME holds another installation's key (no bundle is written), 2 bad usage (an --out
    that exists or whose folder does not).
    """
    from nigran.pipelines.extraction import find_identifiers
    from nigran.storage.evidence.export import ExportError, OutputError, Selection, export_bundle

    db = open_db(db_url)
    home = evidence_home_or_exit(db)
    selection = Selection(iso_datetime(since), iso_datetime(until), tuple(sources), tuple(categories),
                          tuple(offer_ids))
    case = case or f"export {datetime.now(timezone.utc):%Y-%m-%d %H:%M}Z"
    try:
        result = export_bundle(db, home, out_path, operator=operator, case=case, selection=selection,
                               find=find_identifiers, profile=profile, as_dir=as_dir,
                               require_timestamp=require_timestamp)
    except OutputError as exc:
        fail(str(exc), 2)
    except ExportError as exc:
        fail(str(exc))
    for warning in result.warnings:
        click.echo(f"nigran: warning: {warning}", err=True)
    if as_json:
        print_json_line({"path": str(result.path), "bundle_id": result.bundle_id, "offers": result.offers,
                         "captures": result.captures, "manifest_sha256": result.manifest_sha256,
                         "key_id": result.key_id, "timestamps": result.timestamps, "warnings": result.warnings})
        return
    out.print(f"Bundle {result.path}: {result.offers} offers, {result.captures} captures ({profile} profile)\n"
              f"  manifest sha256 {result.manifest_sha256}, signed by key {result.key_id}\n"
              + "".join(f"  time-stamped by {t}\n" for t in result.timestamps)
              + f"  check it with: nigran verify {result.path} --key {home / 'signing.pub'}")


def _print_report(report, as_json: bool) -> None:
    """The report's lines and verdict (or one JSON line), then exit with the verdict's status."""
    if as_json:
        print_json_line(report.as_dict())
    else:
        for prefix, lines in (("OK  ", report.ok), ("NOTE", report.notes), ("FAIL", report.problems)):
            for line in lines:
                click.echo(f"{prefix} {line}")
        click.echo(report.verdict_line())
    sys.exit(report.exit_status)


@click.command()
@click.argument("bundle", required=False, type=click.Path(path_type=Path))
@click.option("--key", "keys_given", multiple=True, metavar="PUB",
              help="The signer's public key, obtained separately: a .pub file or its base64 line "
                   "(`nigran keys show`). Repeatable. Only a pinned key makes a bundle VALID.")
@click.option("--trusted-keys", type=click.Path(path_type=Path, dir_okay=False),
              help="File of trusted signer keys: base64 key lines or .pub files one after another, "
                   "# comments (default $NIGRAN_HOME/trusted_keys, when it exists).")
@click.option("--tsa-roots", type=click.Path(path_type=Path, dir_okay=False),
              help="PEM file of trusted TSA roots (default $NIGRAN_TSA_ROOTS, else the bundle's own, with a note).")
@setting_option("NIGRAN_DB", "db_url", envvar=None, is_flag=False, flag_value="", default=None, metavar="[URL]",
                  help="Verify the database instead: custody chain and checkpoints, WARC digests, body files "
                     "(URL optional).")
@click.option("--quick", is_flag=True, help="With --db: do not re-hash the body files.")
@json_option
def verify(bundle, keys_given, trusted_keys, tsa_roots, db_url, quick, as_json):
    """Verify an evidence bundle (zip or folder) offline, or with --db the local evidence store (in the data
    home the database recorded).

    A bundle is VALID only when it is intact and signed by a pinned key (--key, --trusted-keys);
    intact but signed by a key not pinned, it is UNVERIFIED and names that key's id.

    Exit status: 0 valid, 1 invalid (prints what failed), 2 unreadable or refused,
    4 unverified (intact, signed by an unpinned key).
    """
    if db_url is not None:
        from nigran.storage.evidence.store_verify import verify_store

        db = open_db(db_url)
        _print_report(verify_store(db, evidence_home_or_exit(db, 2), quick=quick), as_json)
    if quick:
        fail("--quick applies to --db only", 2)
    if bundle is None:
        fail("give a BUNDLE to verify, or --db", 2)
    from nigran.storage.evidence.bundle_verify import Unreadable, verify_pinned
    from nigran.storage.evidence.minisign import SignatureError
    from nigran.storage.evidence.timestamp import TimestampError
    from nigran.storage.evidence.verdict import EXIT_STATUS, UNREADABLE, unreadable

    try:
        report = verify_pinned(bundle, keys_given=keys_given, trusted_keys=trusted_keys, tsa_roots=tsa_roots)
    except (OSError, SignatureError, TimestampError) as exc:
        fail(str(exc), EXIT_STATUS[UNREADABLE])
    except Unreadable as exc:
        if as_json:
            print_json_line(unreadable(str(exc)))
        fail(str(exc), EXIT_STATUS[UNREADABLE])
    _print_report(report, as_json)


@click.group("keys")
def keys_group():
    """The evidence signing key."""


@keys_group.command("show")
@json_option
def keys_show(as_json):
    """Print the signing public key and its fingerprint (the key is created on first use)."""
    from nigran.storage.evidence import keys

    public = keys.public_key()
    info = {**keys.describe(public), "public_key_file": str(keys.key_paths()[1])}
    if as_json:
        print_json_line(info)
        return
    click.echo(f"key id (fingerprint): {info['key_id']}\npublic key: {info['public_key']}\n"
               f"file: {info['public_key_file']}\nverify with: nigran verify BUNDLE --key {info['public_key']}\n"
               f"         or: minisign -Vm FILE -P {info['public_key']}")


COMMANDS = (export, verify, keys_group)
