"""``genedit faceswap ...``: the commands this plugin adds to genedit (issue 16's stages).

Imported by ``genedit --help``: torch and the networks are imported inside command bodies. From
the CLI only :mod:`genedit_cli.sdk` is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from genedit_cli.sdk import PhaseProgress, err, out

from genedit_core.sdk import GeneditError


def register(app: typer.Typer) -> None:
    """Add the ``faceswap`` command group to ``app``."""
    group = typer.Typer(help="Face swap stages: extract (detect, align, crop).", no_args_is_help=True)

    @group.command()
    def extract(
        inputs: Annotated[list[Path], typer.Argument(help="Images and folders of images.")],
        out_dir: Annotated[Path, typer.Option("--out", help="Folder for the crops and faces.json.")],
        size: Annotated[int, typer.Option(min=16, max=1024, help="Side of each crop in pixels.")] = 256,
        padding: Annotated[
            float, typer.Option(min=0.0, max=1.0, help="Margin around the landmark template (fraction).")
        ] = 0.25,
        min_face: Annotated[int, typer.Option(min=12, help="Smallest face side in pixels to look for.")] = 20,
        weights: Annotated[str | None, typer.Option(help="MTCNN weights (default: bundled).")] = None,
        device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "cpu",
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    ) -> None:
        """Detect faces, align them to a 5-point template and crop: [bold]genedit faceswap extract photos/ --out faces_A[/bold].

        Writes STEM_NN.png per face and faces.json (box, score, landmarks and the image-to-crop
        transform of each face); images without a face are skipped and counted.
        """
        from .extracting import extract_files

        with PhaseProgress("extract", enabled=not quiet) as progress:
            record = extract_files(
                inputs, out_dir, size=size, padding=padding, min_face=min_face,
                weights=weights, device=device, progress=progress,
            )  # fmt: skip
        for skipped in record["skipped"]:
            err.print(f"skipped {skipped['source']}: {skipped['reason']}", markup=False, highlight=False)
        images = len({f["source"] for f in record["faces"]})
        if not record["faces"]:
            raise GeneditError(f"no face found in any of the {len(record['skipped'])} input image(s)")
        out.print(
            f"{len(record['faces'])} face(s) from {images} image(s) -> {out_dir}/ "
            f"({len(record['skipped'])} without a face)",
            markup=False,
            highlight=False,
        )

    app.add_typer(group, name="faceswap")
