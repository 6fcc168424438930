"""Bad inputs to every distortion (and the edge metrics built on the same Canny map), as
one declarative table: (callable, arguments, expected error, message fragment).

Each row names the parameter and what came; a row that reached torch, NumPy or
scikit-image would fail with their error type or message instead.
"""

from __future__ import annotations

import math

import pytest
import torch

from shapebias import distortions as D
from shapebias.metrics import edge_alignment, image_edges, saliency_similarity

NAN, INF = math.nan, math.inf
IMAGES = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
STYLE = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
MAPS = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(2))

ROWS = [
    # non-finite settings
    (D.contrast, (IMAGES, NAN), {}, ValueError, "factor must be a finite number, got nan"),
    (D.contrast, (IMAGES, INF), {}, ValueError, "factor must be a finite number, got inf"),
    (D.Contrast, (INF,), {}, ValueError, "factor must be a finite number"),
    (D.saturate, (IMAGES, NAN), {}, ValueError, "p must be a finite number, got nan"),
    (D.saturate, (IMAGES, -1.0), {}, ValueError, "p must be > 0, got -1"),
    (D.low_pass, (IMAGES,), {"sigma": NAN}, ValueError, "sigma must be a finite number, got nan"),
    (D.low_pass, (IMAGES,), {"sigma": INF}, ValueError, "sigma must be a finite number"),
    (D.high_pass, (IMAGES,), {"sigma": -INF}, ValueError, "sigma must be a finite number"),
    (D.LowPass, (), {"sigma": INF}, ValueError, "sigma must be a finite number"),
    (D.low_pass, (IMAGES,), {"radius": NAN}, ValueError, "radius must be a finite number, got nan"),
    (D.edges, (IMAGES,), {"sigma": INF}, ValueError, "sigma must be a finite number"),
    (D.Edges, (), {"sigma": NAN}, ValueError, "sigma must be a finite number, got nan"),
    (D.phase_scramble, (IMAGES, NAN), {}, ValueError, "width must be a finite number, got nan"),
    (D.uniform_noise, (IMAGES, INF), {}, ValueError, "width must be >= 0 and <= 1, got inf"),
    (D.silhouette, (IMAGES, MAPS > 0.5), {"foreground": NAN}, ValueError, "foreground must be"),
    # a sigma far too wide for the images: refused before any kernel is built
    (D.low_pass, (IMAGES,), {"sigma": 1e9}, ValueError, r"sigma=1e\+09 needs a 8000000001-pixel"),
    (D.high_pass, (IMAGES,), {"sigma": 4.0}, ValueError, "too wide for images of size 16x16"),
    (D.edges, (IMAGES,), {"sigma": 1e9}, ValueError, "too wide for images of size 16x16"),
    (image_edges, (IMAGES,), {"sigma": 1e9}, ValueError, "too wide for images of size 16x16"),
    (edge_alignment, (MAPS, IMAGES), {"sigma": 1e12}, ValueError, "Gaussian kernel, too wide"),
    (edge_alignment, (MAPS, IMAGES), {"tolerance": 10**9}, ValueError, "tolerance must be below"),
    # Canny thresholds: inconsistent with each other or with the other's default
    (
        D.edges,
        (IMAGES,),
        {"low_threshold": 0.5, "high_threshold": 0.1},
        ValueError,
        "low_threshold=0.5 > high_threshold=0.1",
    ),
    (
        D.edges,
        (IMAGES,),
        {"low_threshold": 0.5},
        ValueError,
        r"low_threshold=0.5 > high_threshold=0.2 \(the default\)",
    ),
    (
        image_edges,
        (IMAGES,),
        {"high_threshold": 0.05},
        ValueError,
        r"low_threshold=0.1 \(the default\) > high_threshold=0.05",
    ),
    (D.Edges, (), {"low_threshold": 0.3}, ValueError, r"high_threshold=0.2 \(the default\)"),
    (D.edges, (IMAGES,), {"high_threshold": INF}, ValueError, "high_threshold must be a finite"),
    (D.edges, (IMAGES,), {"low_threshold": "0.1"}, TypeError, "low_threshold must be a real"),
    # stylize names content and style, not images
    (D.stylize, (IMAGES.double(), STYLE), {}, ValueError, "style is a torch.float32 tensor"),
    (D.stylize, (IMAGES * 2, STYLE), {}, ValueError, r"content must lie in \[0, 1\]"),
    (D.stylize, (IMAGES[0], STYLE), {}, ValueError, r"content must have shape \(N, C, H, W\)"),
    (D.stylize, (IMAGES, STYLE[:, :1]), {}, ValueError, "to pair with content of shape"),
    (D.stylize, (IMAGES, STYLE.numpy()), {}, TypeError, r"style must be a torch\.Tensor"),
    # the generator keyword: checked by deterministic distortions too
    (D.saturate, (IMAGES, 8), {"generator": 0}, TypeError, "generator must be a torch.Generator"),
    (D.grayscale, (IMAGES,), {"generator": "seed"}, TypeError, "generator must be a torch"),
    # saliency maps that have no ranking
    (saliency_similarity, (MAPS, torch.zeros(2, 16, 16)), {}, ValueError, "b holds constant"),
]


@pytest.mark.parametrize(
    ("function", "args", "kwargs", "error", "match"),
    ROWS,
    ids=[f"{row[0].__name__}-{index}" for index, row in enumerate(ROWS)],
)
def test_bad_input_is_refused_naming_the_parameter(function, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        function(*args, **kwargs)
