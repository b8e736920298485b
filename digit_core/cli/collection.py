"""``collection``: the labelled drawings from the command line (add, list, export, delete)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from digit_core import config
from digit_core.cli.common import EXIT_FAILED, EXIT_OK, HelpFormatter


def add_collection(commands: argparse._SubParsersAction) -> None:
    collection = commands.add_parser(
        "collection", formatter_class=HelpFormatter,
        help=f"the labelled drawings (in ${config.DB_URL_ENV}, ${config.DB_ENV} or data/collection.db)")
    actions = collection.add_subparsers(dest="action", required=True, metavar="ACTION",
                                        help="one of these; ACTION --help for its options")
    add = actions.add_parser("add", help="store image files as drawings of one digit", formatter_class=HelpFormatter)
    add.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, BMP, ...), one digit each")
    add.add_argument("--label", required=True, help="the digit 0-9 every IMAGE shows")
    add.add_argument("--who", default=None, help="who drew them (default: your login name)")
    add.add_argument("--model", default=None,
                     help="the model whose reading is stored beside each drawing: a .keras path or a registry id "
                          "(default: the active model)")
    add.add_argument("--json", action="store_true", help="print one JSON line per image")
    add.set_defaults(handler=_cmd_collection_add)
    listing = actions.add_parser("list", help="list the drawings, oldest first", formatter_class=HelpFormatter)
    listing.add_argument("--json", action="store_true",
                         help="one JSON line per drawing: id, label, predicted, confidence, who, model_id, created")
    listing.set_defaults(handler=_cmd_collection_list)
    export = actions.add_parser("export", help="write the 28x28 inputs as a label,pixel0..pixel783 CSV",
                                formatter_class=HelpFormatter)
    export.add_argument("--out", type=Path, required=True, metavar="FILE.csv",
                        help="the CSV to write (train --extra-data and the Explore page read it)")
    export.set_defaults(handler=_cmd_collection_export)
    delete = actions.add_parser("delete", help="delete drawings by id", formatter_class=HelpFormatter)
    delete.add_argument("ids", nargs="+", type=int, metavar="ID", help="ids of drawings, as collection list shows")
    delete.set_defaults(handler=_cmd_collection_delete)


def _collection_errors(handler):
    """A database that cannot be used is one clear line on stderr and exit status 1, never a traceback."""
    import functools

    @functools.wraps(handler)
    def guarded(args: argparse.Namespace) -> int:
        from digit_core.store.database import CollectionError

        try:
            return handler(args)
        except CollectionError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_FAILED
    return guarded


@_collection_errors
def _cmd_collection_add(args: argparse.Namespace) -> int:
    import getpass

    from digit_core import workflows

    failed = False
    for line in workflows.collect_files(args.model, args.images, args.label, args.who or getpass.getuser()):
        if "error" in line:
            failed = True
            print(f"{line['path']}: error: {line['error']} Nothing was stored for it.", file=sys.stderr, flush=True)
        elif args.json:
            print(json.dumps(line), flush=True)
        else:
            print(f"{line['path']}: stored as drawing #{line['id']}, a {line['label']} "
                  f"(the model read {line['predicted']} at {line['confidence']:.1%})", flush=True)
    return EXIT_FAILED if failed else EXIT_OK


@_collection_errors
def _cmd_collection_list(args: argparse.Namespace) -> int:
    from digit_core.store.collection import Collection

    collection = Collection.open()
    try:
        drawings = collection.drawings()
    finally:
        collection.close()
    for drawing in drawings:
        row = drawing.to_json()
        if args.json:
            print(json.dumps(row))
        else:
            print(f"#{row['id']:<6} {row['label']}  read {row['predicted']} ({row['confidence']:.0%})  "
                  f"{row['who']:<20} {row['created']}  {row['model_id']}")
    if not drawings and not args.json:
        print(f"No drawings in {collection.where} yet.")
    return EXIT_OK


@_collection_errors
def _cmd_collection_export(args: argparse.Namespace) -> int:
    from digit_core import workflows

    result = workflows.export_collection(args.out)
    plural = "" if result["drawings"] == 1 else "s"
    print(f"Wrote {result['drawings']} drawing{plural} to {result['out']}.")
    return EXIT_OK


@_collection_errors
def _cmd_collection_delete(args: argparse.Namespace) -> int:
    from digit_core.store.collection import Collection

    collection = Collection.open()
    try:
        deleted = collection.delete(args.ids)
    finally:
        collection.close()
    missing = sorted(set(args.ids) - set(deleted))
    if deleted:
        print(f"Deleted {len(deleted)} drawing{'s' if len(deleted) != 1 else ''}: "
              + ", ".join(f"#{drawing_id}" for drawing_id in deleted) + ".")
    if missing:
        print("error: no drawing " + ", ".join(f"#{drawing_id}" for drawing_id in missing) + " in the collection.",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
