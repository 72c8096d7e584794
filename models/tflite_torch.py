"""A TFLite graph as a torch module: MediaPipe's face models run on torch (CPU or CUDA).

MediaPipe ships its Apache-2.0 face models (BlazeFace, Face Mesh, Iris) only as ``.tflite``
flatbuffers. This reads the graph and its weights once (with the pure-Python ``tflite``
schema package) and replays the operators in torch, NCHW inside, so the same weights run
batched on ``PROCTORLAKE_TORCH_DEVICE`` without a TFLite runtime. Only the operators these
models use are supported; anything else fails loudly at load time, not silently at run time.
``tests/test_models_face_mesh.py`` checks every output against LiteRT running the same file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_FLOAT16 = 1
_FLOAT32 = 0
_INT32 = 2
_ACTIVATIONS: dict[int, Callable[[torch.Tensor], torch.Tensor]] = {
    0: lambda x: x,
    1: F.relu_,
    3: lambda x: torch.clamp_(x, 0.0, 6.0),
}
"""Fused activations, applied in place: they only ever run on a tensor the op just made."""


def _builtin_names() -> dict[int, str]:
    import tflite

    return {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


def _same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TFLite SAME padding: the odd pixel goes after (bottom/right), unlike torch's padding."""
    effective = (kernel - 1) * dilation + 1
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _to_nchw(t: torch.Tensor) -> torch.Tensor:
    return t.permute(0, 3, 1, 2) if t.dim() == 4 else t


def _to_nhwc(t: torch.Tensor) -> torch.Tensor:
    return t.permute(0, 2, 3, 1) if t.dim() == 4 else t


class TfliteGraph(nn.Module):
    """The operators of one ``.tflite`` subgraph, replayed in torch on a batch.

    ``forward`` takes NHWC float32 input (as the ``.tflite`` file declares it, any batch size)
    and returns the graph's outputs in the file's layout (NHWC for 4-d tensors), in order.
    """

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        import tflite

        buf = Path(path).read_bytes()
        model = tflite.Model.GetRootAsModel(buf, 0)
        graph = model.Subgraphs(0)
        names = _builtin_names()
        self.input_ids = [int(graph.Inputs(i)) for i in range(graph.InputsLength())]
        self.output_ids = [int(graph.Outputs(i)) for i in range(graph.OutputsLength())]
        self.input_shapes = [
            tuple(int(d) for d in graph.Tensors(i).ShapeAsNumpy()) for i in self.input_ids
        ]
        self.output_names = [graph.Tensors(i).Name().decode() for i in self.output_ids]
        constants: dict[int, np.ndarray] = {}
        for index in range(graph.TensorsLength()):
            tensor = graph.Tensors(index)
            data = model.Buffers(tensor.Buffer()).DataAsNumpy()
            if isinstance(data, int) or data is None or len(data) == 0:
                continue
            dtype = {_FLOAT32: np.float32, _FLOAT16: np.float16, _INT32: np.int32}[tensor.Type()]
            shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
            constants[index] = np.frombuffer(data.tobytes(), dtype=dtype).reshape(shape)
        self._steps: list[Callable[[dict[int, torch.Tensor]], None]] = []
        self._params = nn.ParameterList()
        self.op_names: list[str] = []
        ops = []
        for index in range(graph.OperatorsLength()):
            op = graph.Operators(index)
            code = model.OperatorCodes(op.OpcodeIndex())
            name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
            inputs = [int(op.Inputs(i)) for i in range(op.InputsLength())]
            outputs = [int(op.Outputs(i)) for i in range(op.OutputsLength())]
            if name == "DEQUANTIZE" and inputs[0] in constants:
                constants[outputs[0]] = constants[inputs[0]].astype(np.float32)
                continue
            ops.append((name, op, inputs, outputs[0]))
        # Each activation is dropped after its last reader (keeps a batch's working set in
        # cache), and an ADD or RELU that is that last reader reuses its input's memory.
        last_use = {i: n for n, (_, _, inputs, _) in enumerate(ops) for i in inputs}
        keep = set(self.output_ids) | set(self.input_ids)
        keep |= {out for name, _, _, out in ops if name == "RESHAPE"}  # views: never reused
        for n, (name, op, inputs, out) in enumerate(ops):
            dead = [i for i in dict.fromkeys(inputs) if last_use[i] == n and i not in keep]
            self.op_names.append(name)
            self._steps.append(self._build(name, op, inputs, out, constants, graph, dead))

    def _const(self, array: np.ndarray) -> torch.Tensor:
        param = nn.Parameter(torch.from_numpy(np.array(array, np.float32)), False)
        self._params.append(param)
        return param

    def _build(self, name, op, inputs, out, constants, graph, dead):  # noqa: C901
        """One operator as a closure over the value table; ``dead`` inputs may be reused."""
        step = self._build_op(name, op, inputs, out, constants, graph, dead)
        if not dead:
            return step

        def free_after(v):
            step(v)
            for i in dead:
                v.pop(i, None)

        return free_after

    def _build_op(self, name, op, inputs, out, constants, graph, dead):  # noqa: C901
        import tflite

        options = op.BuiltinOptions()

        def opts(cls):
            o = cls()
            o.Init(options.Bytes, options.Pos)
            return o

        shape_of = {i: tuple(int(d) for d in graph.Tensors(i).ShapeAsNumpy()) for i in inputs}
        out_shape = tuple(int(d) for d in graph.Tensors(out).ShapeAsNumpy())
        x_id = inputs[0]
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            depthwise = name == "DEPTHWISE_CONV_2D"
            o = opts(tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
            kernel = constants[inputs[1]].astype(np.float32)
            if depthwise:  # [1, kh, kw, C] -> [C, 1, kh, kw]
                weight = self._const(kernel.transpose(3, 0, 1, 2))
            else:  # [O, kh, kw, I] -> [O, I, kh, kw]
                weight = self._const(kernel.transpose(0, 3, 1, 2))
            bias = self._const(constants[inputs[2]]) if len(inputs) > 2 else None
            stride = (o.StrideH(), o.StrideW())
            dilation = (o.DilationHFactor(), o.DilationWFactor())
            _, h, w, c = shape_of[x_id]
            kh, kw = weight.shape[2], weight.shape[3]
            pad = (0, 0, 0, 0)
            if o.Padding() == tflite.Padding.SAME:
                pad = (
                    *_same_padding(w, kw, stride[1], dilation[1]),
                    *_same_padding(h, kh, stride[0], dilation[0]),
                )
            groups = c if depthwise else 1
            act = _ACTIVATIONS[o.FusedActivationFunction()]
            symmetric = pad[0] == pad[1] and pad[2] == pad[3]
            conv_pad = (pad[2], pad[0]) if symmetric else (0, 0)

            def step(v, x_id=x_id):
                x = v[x_id]
                if not symmetric:
                    x = F.pad(x, pad)
                v[out] = act(F.conv2d(x, weight, bias, stride, conv_pad, dilation, groups))

            return step
        if name == "PRELU":
            alpha = self._const(constants[inputs[1]].reshape(1, -1, 1, 1))

            def step(v, x_id=x_id):
                v[out] = F.prelu(v[x_id], alpha.reshape(-1))

            return step
        if name == "RELU":
            relu = F.relu_ if x_id in dead else F.relu
            return lambda v, x_id=x_id: v.__setitem__(out, relu(v[x_id]))
        if name == "ADD":
            act = _ACTIVATIONS[opts(tflite.AddOptions).FusedActivationFunction()]
            a, b = inputs
            if a not in dead and b in dead:
                a, b = b, a
            if a in dead and a != b:
                return lambda v: v.__setitem__(out, act(v[a].add_(v[b])))
            return lambda v: v.__setitem__(out, act(v[a] + v[b]))
        if name == "MAX_POOL_2D":
            o = opts(tflite.Pool2DOptions)
            kernel, stride = (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW())
            _, h, w, _ = shape_of[x_id]
            pad = (0, 0, 0, 0)
            if o.Padding() == tflite.Padding.SAME:
                pad = (
                    *_same_padding(w, kernel[1], stride[1]),
                    *_same_padding(h, kernel[0], stride[0]),
                )

            def step(v, x_id=x_id):
                x = v[x_id]
                if any(pad):
                    x = F.pad(x, pad, value=float("-inf"))
                v[out] = F.max_pool2d(x, kernel, stride)

            return step
        if name == "PAD":
            pads = constants[inputs[1]].astype(int)  # [[before, after]] per NHWC axis
            torch_pad = tuple(int(p) for axis in (2, 1, 3) for p in pads[axis])  # NCHW: W, H, C

            return lambda v, x_id=x_id: v.__setitem__(out, F.pad(v[x_id], torch_pad))
        if name == "RESHAPE":
            target = out_shape[1:]

            def step(v, x_id=x_id):
                x = _to_nhwc(v[x_id]).reshape(v[x_id].shape[0], *target)
                v[out] = _to_nchw(x)

            return step
        if name == "CONCATENATION":
            o = opts(tflite.ConcatenationOptions)
            rank = len(out_shape)
            axis = o.Axis() % rank
            if rank == 4:
                axis = {0: 0, 1: 2, 2: 3, 3: 1}[axis]
            return lambda v: v.__setitem__(out, torch.cat([v[i] for i in inputs], dim=axis))
        raise NotImplementedError(f"TFLite operator {name} is not ported")

    def forward(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        values = {i: _to_nchw(x).contiguous() for i, x in zip(self.input_ids, inputs, strict=True)}
        for step in self._steps:
            step(values)
        return [_to_nhwc(values[i]) for i in self.output_ids]
