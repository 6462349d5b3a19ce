"""MTCNN: the nets against an independent functional forward of the published weights, NMS, and the
cascade on the public-domain astronaut photograph (hand-checked coordinates)."""

from importlib import resources

import pytest
import torch
import torch.nn.functional as F
from genedit_faceswap.mtcnn import MTCNN, box_iou, nms, pyramid_scales
from safetensors.torch import load_file

WEIGHTS = resources.files("genedit_faceswap").joinpath("weights/mtcnn.safetensors")


@pytest.fixture(scope="module")
def raw() -> dict[str, dict[str, torch.Tensor]]:
    """The bundled tensors split per net, under facenet-pytorch's own key names."""
    flat = load_file(str(WEIGHTS))
    nets: dict[str, dict[str, torch.Tensor]] = {"pnet": {}, "rnet": {}, "onet": {}}
    for key, value in flat.items():
        net, name = key.split(".", 1)
        nets[net][name] = value
    return nets


@pytest.fixture(scope="module")
def model(raw) -> MTCNN:
    m = MTCNN()
    for net, state in raw.items():
        getattr(m, net).load_state_dict(state, strict=True)
    return m.eval()


def _conv(x, sd, i):
    return F.prelu(F.conv2d(x, sd[f"conv{i}.weight"], sd[f"conv{i}.bias"]), sd[f"prelu{i}.weight"])


def _caffe_flat(x):
    # The converted Caffe nets were trained on transposed images: flatten as (W, H, C).
    return x.transpose(1, 3).flatten(1)


def ref_pnet(sd, x):
    x = F.max_pool2d(_conv(x, sd, 1), kernel_size=2, stride=2, ceil_mode=True)
    x = _conv(_conv(x, sd, 2), sd, 3)
    prob = F.softmax(F.conv2d(x, sd["conv4_1.weight"], sd["conv4_1.bias"]), dim=1)
    return F.conv2d(x, sd["conv4_2.weight"], sd["conv4_2.bias"]), prob


def ref_rnet(sd, x):
    x = F.max_pool2d(_conv(x, sd, 1), 3, 2, ceil_mode=True)
    x = F.max_pool2d(_conv(x, sd, 2), 3, 2, ceil_mode=True)
    x = _caffe_flat(_conv(x, sd, 3))
    x = F.prelu(F.linear(x, sd["dense4.weight"], sd["dense4.bias"]), sd["prelu4.weight"])
    prob = F.softmax(F.linear(x, sd["dense5_1.weight"], sd["dense5_1.bias"]), dim=1)
    return F.linear(x, sd["dense5_2.weight"], sd["dense5_2.bias"]), prob


def ref_onet(sd, x):
    x = F.max_pool2d(_conv(x, sd, 1), 3, 2, ceil_mode=True)
    x = F.max_pool2d(_conv(x, sd, 2), 3, 2, ceil_mode=True)
    x = F.max_pool2d(_conv(x, sd, 3), 2, 2, ceil_mode=True)
    x = _caffe_flat(_conv(x, sd, 4))
    x = F.prelu(F.linear(x, sd["dense5.weight"], sd["dense5.bias"]), sd["prelu5.weight"])
    prob = F.softmax(F.linear(x, sd["dense6_1.weight"], sd["dense6_1.bias"]), dim=1)
    box = F.linear(x, sd["dense6_2.weight"], sd["dense6_2.bias"])
    return box, F.linear(x, sd["dense6_3.weight"], sd["dense6_3.bias"]), prob


def test_bundled_weights_are_the_published_layout(raw):
    assert raw["pnet"]["conv4_2.weight"].shape == (4, 32, 1, 1)
    assert raw["rnet"]["dense4.weight"].shape == (128, 576)
    assert raw["onet"]["dense5.weight"].shape == (256, 1152)
    assert raw["onet"]["dense6_3.weight"].shape == (10, 256)
    assert sum(len(s) for s in raw.values()) == 50


@pytest.mark.parametrize(
    ("net", "ref", "size"), [("pnet", ref_pnet, 37), ("rnet", ref_rnet, 24), ("onet", ref_onet, 48)]
)
def test_nets_match_reference_forward(model, raw, net, ref, size):
    torch.manual_seed(0)
    x = torch.rand(3, 3, size, size + (5 if net == "pnet" else 0)) * 2 - 1
    with torch.no_grad():
        ours = getattr(model, net)(x)
        theirs = ref(raw[net], x)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-5), (net, (a - b).abs().max())
    # The scores are real probabilities that differ between inputs (not a constant head).
    prob = ours[-1]
    assert torch.allclose(prob.sum(1), torch.ones_like(prob.sum(1)))
    assert prob[:, 1].std() > 1e-4


def test_nms_keeps_best_of_overlapping_and_separate_boxes():
    boxes = torch.tensor(
        [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.5]], dtype=torch.float
    )
    scores = torch.tensor([0.9, 0.95, 0.5, 0.1])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.99).tolist() == [1, 0, 2, 3]
    # A small box inside a big one: IoU is low, intersection over the smaller box is 1.
    nested = torch.tensor([[0, 0, 20, 20], [5, 5, 10, 10]], dtype=torch.float)
    assert nms(nested, torch.tensor([0.9, 0.8]), 0.7).tolist() == [0, 1]
    assert nms(nested, torch.tensor([0.9, 0.8]), 0.7, mode="min").tolist() == [0]
    assert box_iou(boxes[:2])[0, 1] == pytest.approx(81 / 119)
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0


def test_pyramid_scales_follow_the_published_schedule():
    scales = pyramid_scales(100, 200, min_face=20)
    assert scales[0] == pytest.approx(0.6)
    assert all(b / a == pytest.approx(0.709) for a, b in zip(scales, scales[1:]))
    assert 100 * scales[-1] >= 12 > 100 * scales[-1] * 0.709


# Hand-checked on skimage.data.astronaut() (512x512): eyes, nose tip, mouth corners; the face.
ASTRONAUT_LANDMARKS = torch.tensor(
    [[203, 101], [247, 102], [225, 126], [205, 143], [243, 142]], dtype=torch.float
)
ASTRONAUT_FACE = torch.tensor([180, 65, 265, 175], dtype=torch.float)


def astronaut() -> torch.Tensor:
    from skimage import data

    return torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255


def test_finds_the_astronauts_face_and_landmarks(model):
    faces = model.detect(astronaut(), min_face=60)
    assert len(faces) == 1
    assert faces.scores[0] > 0.99
    iou = box_iou(torch.stack([faces.boxes[0], ASTRONAUT_FACE]))[0, 1]
    assert iou > 0.6, faces.boxes
    error = (faces.landmarks[0] - ASTRONAUT_LANDMARKS).norm(dim=1)
    interocular = (ASTRONAUT_LANDMARKS[1] - ASTRONAUT_LANDMARKS[0]).norm()
    assert (error < 0.15 * interocular).all(), faces.landmarks


def test_no_face_in_a_flat_image(model):
    faces = model.detect(torch.full((1, 3, 120, 160), 0.5), min_face=40)
    assert len(faces) == 0
    assert faces.landmarks.shape == (0, 5, 2)
