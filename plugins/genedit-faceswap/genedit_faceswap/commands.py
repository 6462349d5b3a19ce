"""``genedit faceswap ...``: the commands this plugin adds to genedit (issue 16's stages).

Imported by ``genedit --help``: torch and the networks are imported inside command bodies. From
the CLI only :mod:`genedit_cli.sdk` is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from genedit_cli.sdk import EXTRA_ARGS, PhaseProgress, err, out

from genedit_core.sdk import UsageError


def register(app: typer.Typer) -> None:
    """Add the ``faceswap`` command group to ``app``."""
    group = typer.Typer(
        help="Face swap stages: extract (detect, align, crop), train, and convert (swap, colour-match, blend).",
        no_args_is_help=True,
    )

    @group.command()
    def extract(
        inputs: Annotated[list[Path], typer.Argument(help="Images, videos and folders of them.")],
        out_dir: Annotated[Path, typer.Option("--out", help="Folder for the crops and faces.json.")],
        size: Annotated[int, typer.Option(min=16, max=1024, help="Side of each crop in pixels.")] = 256,
        padding: Annotated[
            float, typer.Option(min=0.0, max=1.0, help="Margin around the landmark template (fraction).")
        ] = 0.25,
        min_face: Annotated[int, typer.Option(min=12, help="Smallest face side in pixels to look for.")] = 20,
        weights: Annotated[str | None, typer.Option(help="MTCNN weights (default: bundled).")] = None,
        detector: Annotated[
            str, typer.Option(help="mtcnn, lbp, haar (Debian opencv-data) or dlib (pip install dlib).")
        ] = "mtcnn",
        dlib_model: Annotated[
            str | None, typer.Option(help="dlib's 68-point model file (iBUG 300-W: non-commercial).")
        ] = None,
        device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "cpu",
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    ) -> None:
        """Detect faces, align them to a 5-point template and crop: [bold]genedit faceswap extract photos/ --out faces_A[/bold].

        Writes STEM_NN.png per face (a video frame's STEM is NAME_fFFFFFF) and faces.json (box,
        score, landmarks and the image-to-crop transform of each face); pictures without a face
        are skipped and counted.
        """
        from .extracting import extract_files

        with PhaseProgress("extract", enabled=not quiet) as progress:
            record = extract_files(
                inputs, out_dir, size=size, padding=padding, min_face=min_face,
                weights=weights, device=device, progress=progress, detector=detector, dlib_model=dlib_model,
            )  # fmt: skip
        for skipped in record["skipped"]:
            err.print(f"skipped {skipped['source']}: {skipped['reason']}", markup=False, highlight=False)
        pictures = len({f["source"] for f in record["faces"]})
        out.print(
            f"{len(record['faces'])} face(s) from {pictures} picture(s) -> {out_dir}/ "
            f"({len(record['skipped'])} without a face)",
            markup=False,
            highlight=False,
        )

    @group.command(context_settings=EXTRA_ARGS)
    def train(
        ctx: typer.Context,
        faces_a: Annotated[str, typer.Argument(help="Aligned crops of identity A (extract's --out).")],
        faces_b: Annotated[str, typer.Argument(help="Aligned crops of identity B.")],
        out_dir: Annotated[Path, typer.Option("--out", help="Run directory.")],
    ) -> None:
        """Train the shared encoder and both decoders: [bold]genedit faceswap train faces_A faces_B --out RUN[/bold].

        The same run as genedit train faceswap --data-a faces_A --data-b faces_B --out RUN (any of
        its options follow: --set data.size=128, --resume RUN, --device, -q), through the
        shared trainer, so resuming and multi-GPU work alike.
        """
        argv = [
            "train",
            "faceswap",
            "--data-a",
            faces_a,
            "--data-b",
            faces_b,
            "--out",
            str(out_dir),
            *ctx.args,
        ]
        ctx.find_root().command.main(args=argv, prog_name="genedit", standalone_mode=False)

    @group.command()
    def convert(
        inputs: Annotated[list[Path], typer.Argument(help="Images, videos and folders of images.")],
        weights: Annotated[str, typer.Option(help="The training run (folder) or its model.safetensors.")],
        direction: Annotated[
            str, typer.Option(help="a2b: faces of A drawn as B; b2a: the other way.")
        ] = "a2b",
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Output file (one input).")
        ] = None,
        out_dir: Annotated[
            Path | None, typer.Option(help="Folder for the outputs (default: results).")
        ] = None,
        colour: Annotated[str, typer.Option(help="reinhard, histogram or none.")] = "reinhard",
        blend: Annotated[
            str, typer.Option(help="feather, or poisson (seamless clone first; best with --colour none).")
        ] = "feather",
        size: Annotated[int | None, typer.Option(help="Crop side to align at (default: the run's).")] = None,
        padding: Annotated[float, typer.Option(min=0.0, max=1.0, help="Margin, as when extracting.")] = 0.25,
        min_face: Annotated[int, typer.Option(min=12, help="Smallest face side in pixels.")] = 20,
        detector: Annotated[
            str, typer.Option(help="mtcnn, lbp, haar (Debian opencv-data) or dlib (pip install dlib).")
        ] = "mtcnn",
        dlib_model: Annotated[
            str | None, typer.Option(help="dlib's 68-point model file (iBUG 300-W: non-commercial).")
        ] = None,
        device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "cpu",
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    ) -> None:
        """Swap every face, colour-match it and blend it back: [bold]genedit faceswap convert clip.mp4 --weights RUN -o out.mp4[/bold].

        Images are written as by genedit run convert -m faceswap; a video is written frame by
        frame at its own frame rate. Every output is marked synthetic, with the run that made
        it, in its provenance (a video: its comment tag).
        """
        from genedit_core.sdk import load, run_batch

        from .convert import convert_video
        from .video import is_video

        params = {
            "direction": direction,
            "colour": colour,
            "blend": blend,
            "padding": padding,
            "min_face": min_face,
            "detector": detector,
        }
        if dlib_model is not None:
            params["dlib_model"] = dlib_model
        if size is not None:
            params["size"] = size
        for key, allowed in (("direction", ("a2b", "b2a")), ("colour", ("reinhard", "histogram", "none")),
                             ("blend", ("poisson", "feather")), ("detector", ("mtcnn", "lbp", "haar", "dlib"))):  # fmt: skip
            if params[key] not in allowed:
                raise UsageError(f"--{key} {params[key]}: expected {' or '.join(allowed)}")
        if output is not None and len(inputs) > 1:
            raise UsageError("-o names one output: give one input, or --out-dir for several")
        videos = [p for p in inputs if is_video(p)]
        images = [p for p in inputs if not is_video(p)]
        swapper = load("faceswap", weights=weights, device=device)
        failed = 0
        for src in videos:
            dest = output or Path(out_dir or "results") / f"{src.stem}_faceswap_convert{src.suffix.lower()}"
            with PhaseProgress(src.name, enabled=not quiet) as progress:
                count, faceless = convert_video(swapper, src, dest, params, progress=progress)
            note = f" ({faceless} without a face, kept as they were)" if faceless else ""
            out.print(f"{dest}: {count} frame(s){note}", markup=False, highlight=False)
        if images:
            report = run_batch(
                "convert", images, model=swapper, output=output, out_dir=out_dir, options=params
            )
            for result in report.results:
                if result.status == "failed":
                    failed += 1
                    err.print(f"error: {result.error}", markup=False, highlight=False)
                else:
                    out.print(", ".join(map(str, result.outputs)), markup=False, highlight=False)
        if failed:
            raise typer.Exit(1)

    app.add_typer(group, name="faceswap")
