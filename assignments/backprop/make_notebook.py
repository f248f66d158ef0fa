"""The prose of the student notebook backprop.ipynb (instructors only); notebook_kit.py makes the
stubs and the closing cells.
`make notebooks` (or .venv/bin/python assignments/backprop/make_notebook.py) writes it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notebook_kit import code, demo, finish, md, spec, stubs, submitting, write  # noqa: E402


def question(name, stubs, try_it):
    """The cells of one question: the stubs of the functions it grades (the spec's list), a cell
    to try them, the check."""
    functions = next(q.functions for q in spec("backprop").questions if q.name == name)
    return [*(code(stubs[f]) for f in functions), code(demo(try_it)), code(f'grader.check("{name}")')]


def build():
    s = stubs("backprop")
    cells = []

    # ------------------------------------------------------------------ introduction
    cells += [
        md(r"""
# Backpropagation and optimizers, by hand

Every model in this course is trained the same way: compute a loss, compute the gradient of
the loss with respect to every parameter, and let an optimizer take a step. PyTorch does the
middle part for you (`loss.backward()`), and `torch.optim` the last. In this notebook you do
both yourself, in plain **NumPy**, for a small network, so that `backward()` and
`optimizer.step()` are never magic again.

| question | function(s) | what it does |
|---|---|---|
| 1 | `numerical_gradient(f, x, h=1e-05)` | estimates a gradient by central differences: your debugging tool |
| 2 | `linear_forward(x, W, b)`, `linear_backward(dout, x, W)` | a fully connected layer and its gradients |
| 3 | `relu_forward(x)`, `relu_backward(dout, x)` | the ReLU and its gradient |
| 4 | `softmax_cross_entropy_forward(logits, y)`, `softmax_cross_entropy_backward(logits, y)` | the classification loss and its gradient |
| 5 | `mlp_loss_and_grads(params, X, y)` | a two-layer network: the loss and every parameter's gradient |
| 6 | `sgd_momentum_step(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0)` | one step of SGD with momentum, as `torch.optim.SGD` |
| 7 | `adamw_step(param, grad, m, v, t, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01)` | one step of AdamW, as `torch.optim.AdamW` |

**Conventions** (they hold for every function below):

- Arrays are NumPy `float64` arrays; labels are `int64`. The first axis is the batch:
  `x[n]` is example `n`.
- Losses are **means over the batch**. So the gradient of the loss carries a factor `1/N`,
  and it enters exactly once: in the gradient of the loss itself. Everything downstream
  (`linear_backward`, `relu_backward`) only passes it on.
- A linear layer is `x @ W + b` with `W` of shape `[D_in, D_out]` (PyTorch's `nn.Linear`
  stores the transpose; we do not).
- A `*_backward` function receives `dout`, the gradient of the loss with respect to the
  layer's output, and returns the gradients with respect to the layer's inputs, each with the
  shape of the input it belongs to.
- The ReLU's gradient at exactly 0 is **0**, as in PyTorch.
- Never modify an input in place; the optimizers return their new state instead of
  updating it.
- **No torch inside your functions.** The grader refuses any call into torch while it runs
  them (with a message saying so): autograd would do the work this notebook is about.

**Checking your work.** After each question, `grader.check("<question>")` runs the public
checks: worked examples whose answers are printed here, and above all **gradient checks**:
each of your analytic gradients is compared with *your own* `numerical_gradient`, the way
you would debug backpropagation anywhere. The autograder then compares your gradients with
PyTorch's autograd and your optimizer steps with `torch.optim`, on many more inputs: batch
size 1, inputs that are all zeros, logits as large as `1e4`, ReLU inputs exactly at 0, and
optimizer states along real trajectories with many hyper-parameters.

Run the next cell first.
"""),
        code("""
import otter
grader = otter.Notebook("backprop.ipynb")

import numpy as np

np.set_printoptions(precision=5, suppress=True)
"""),
    ]

    # ------------------------------------------------------------------ 1. numerical gradient
    cells += [
        md(r"""
## 1. The numerical gradient: a gradient you can always trust

The derivative is a limit, $f'(x) = \lim_{h \to 0} \frac{f(x+h) - f(x)}{h}$, so any
function's gradient can be *estimated* by nudging one input at a time. The symmetric
(**central**) difference is much more accurate than the one-sided one:

$$\frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}
\qquad\text{(error } O(h^2)\text{, against } O(h) \text{ for } \tfrac{f(x+he_i) - f(x)}{h}\text{)}$$

where $e_i$ is 1 at index $i$ and 0 elsewhere. Expand $f(x \pm h)$ in a Taylor series to
see why: the $h^2 f''$ terms cancel in the symmetric version.

It costs two evaluations of $f$ per entry of $x$, far too slow to train with (a model with
$10^8$ parameters would need $2 \cdot 10^8$ forward passes per step), but perfect for
**checking** the fast analytic gradients you will write next, on tiny inputs.

**Worked examples.** For $f(x) = \sum x^2$ the gradient is $2x$. For $f = $ `np.prod` at
`[2, 3, 4]` it is `[12, 8, 6]`. For $f(x) = x_0^3$ at $x_0 = 1$ with $h = 0.1$, the central
difference gives exactly $3 + h^2 = 3.01$; the one-sided difference would give $3.31$.

**Question 1.** Implement `numerical_gradient`. Loop over every index of `x` (whatever its
shape; `np.ndindex(x.shape)` yields them all), perturb **a copy** of `x`, and leave `x`
itself unchanged.
"""),
        *question("numerical_gradient", s, """
x = np.array([[1.0, -2.0], [0.5, 3.0]])
print(numerical_gradient(lambda z: np.sum(z**2), x))   # [[2, -4], [1, 6]]
print(numerical_gradient(np.prod, np.array([2.0, 3.0, 4.0])))   # [12, 8, 6]
print(numerical_gradient(lambda z: z[0] ** 3, np.array([1.0]), h=0.1))   # [3.01]
"""),
    ]

    # ------------------------------------------------------------------ 2. linear
    cells += [
        md(r"""
## 2. A linear layer, forward and backward

The forward pass is `out = x @ W + b`: `x` is `[N, D_in]`, `W` is `[D_in, D_out]`, `b` is
`[D_out]` and is added to every row.

For the backward pass, suppose some loss $L$ sits downstream and you are given
`dout` $= \partial L / \partial \text{out}$, shaped like `out`. The chain rule, written out
index by index ($\text{out}_{nj} = \sum_i x_{ni} W_{ij} + b_j$) and collected back into
matrices, gives

$$\frac{\partial L}{\partial x} = \text{dout}\, W^\top, \qquad
\frac{\partial L}{\partial W} = x^\top \text{dout}, \qquad
\frac{\partial L}{\partial b} = \textstyle\sum_n \text{dout}_n .$$

A quick way to remember (and to check) them: **each gradient has the shape of the thing it
is the gradient of**, and there is only one way to multiply `dout` `[N, D_out]` with `x`
or `W` to get that shape. If your `dW` comes out `[D_out, D_in]`, a transpose is missing;
with a square `W` the shapes cannot warn you, but the values are wrong.

Note that `db` **sums** over the batch, it does not average: if the loss is a batch mean, the
`1/N` is already inside `dout`.

**Worked example.** `x = [[1, 2]]`, `W = [[1, 0, -1], [2, 1, 0]]`, `b = [0.5, 0, 1]` gives
`out = [[5.5, 2, 0]]`. With `dout = [[1, -1, 2]]`: `dx = [[-1, 1]]`,
`dW = [[1, -1, 2], [2, -2, 4]]`, `db = [1, -1, 2]`.

**Question 2.** Implement `linear_forward` and `linear_backward`.
"""),
        *question("linear", s, """
x, W, b = np.array([[1.0, 2.0]]), np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]]), np.array([0.5, 0.0, 1.0])
print(linear_forward(x, W, b))                          # [[5.5, 2, 0]]
dx, dW, db = linear_backward(np.array([[1.0, -1.0, 2.0]]), x, W)
print(dx, dW, db, sep="\\n")

# Your first gradient check: L = sum(dout * out) has dL/dout = dout, so dW must equal the
# numerical gradient of W -> sum(dout * linear_forward(x, W, b)).
rng = np.random.default_rng(0)
x, W, b, dout = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(4, 2))
numeric = numerical_gradient(lambda W_: np.sum(dout * linear_forward(x, W_, b)), W)
print("max |analytic - numerical| for dW:", np.abs(linear_backward(dout, x, W)[1] - numeric).max())
"""),
    ]

    # ------------------------------------------------------------------ 3. relu
    cells += [
        md(r"""
## 3. The ReLU

`relu(x) = max(x, 0)`, elementwise. Its derivative is 1 where $x > 0$ and 0 where
$x < 0$; at exactly $x = 0$ it has none, and we follow PyTorch's convention: **0**. So

$$\frac{\partial L}{\partial x} = \text{dout} \cdot \mathbb{1}[x > 0].$$

Two classic slips: multiplying by `x >= 0` (wrong exactly at 0, which happens more than you
would think: zero inputs and zero biases put hidden units right on the kink), and computing
the mask from the **output** `relu(x) >= 0`, which is true everywhere. That is why
`relu_backward` receives the input `x`.

**Worked example.** `x = [-1, 0, 2, -0.5, 3]` gives `[0, 0, 2, 0, 3]`; with
`dout = [10, 20, 30, 40, 50]` the gradient is `[0, 0, 30, 0, 50]`.

**Question 3.** Implement `relu_forward` and `relu_backward`.
"""),
        *question("relu", s, """
x = np.array([-1.0, 0.0, 2.0, -0.5, 3.0])
print(relu_forward(x))                                            # [0, 0, 2, 0, 3]
print(relu_backward(np.array([10.0, 20.0, 30.0, 40.0, 50.0]), x))  # [0, 0, 30, 0, 50]
"""),
    ]

    # ------------------------------------------------------------------ 4. softmax cross-entropy
    cells += [
        md(r"""
## 4. Softmax cross-entropy

A classifier outputs one score (logit) per class; softmax turns a row of logits $z$ into
probabilities $p = e^{z} / \sum_c e^{z_c}$, and the loss of an example with correct class
$y$ is $-\log p_y$. Over a batch we take the **mean**:

$$L = \frac{1}{N} \sum_n -\log \text{softmax}(z_n)_{y_n}.$$

Two facts make this both stable and cheap:

- **Stability.** $\text{softmax}(z) = \text{softmax}(z - \max z)$, so subtract each row's
  maximum before `exp`: then nothing overflows (`exp(1000)` is `inf` in float64) and
  $\log \sum_c e^{z_c - \max}$ is at least 0 (no `log(0)`). Compute $\log p_y$ directly as
  $z_y - \max z - \log \sum_c e^{z_c - \max z}$.
- **The gradient is beautiful.** $\partial(-\log p_y) / \partial z = p - \text{onehot}(y)$:
  the predicted probabilities, minus 1 at the correct class. With the batch mean,

$$\frac{\partial L}{\partial z_n} = \frac{p_n - \text{onehot}(y_n)}{N}.$$

Forget the one-hot and the gradient pushes every logit down; forget the $1/N$ and your
gradients grow with the batch size. Every row of the gradient sums to 0.

**Worked example.** All-zero logits with $C = 4$ classes: every $p_c = 1/4$, the loss is
$\log 4 \approx 1.386$ whatever the labels, and each row of the gradient is
$(1/4 - \text{onehot}) / N$.

**Question 4.** Implement `softmax_cross_entropy_forward` and `softmax_cross_entropy_backward`.
"""),
        *question("softmax_cross_entropy", s, """
logits, y = np.zeros((2, 4)), np.array([1, 3])
print(softmax_cross_entropy_forward(logits, y), np.log(4))
print(softmax_cross_entropy_backward(logits, y))
print(softmax_cross_entropy_forward(np.array([[1000.0, 0.0]]), np.array([1])))   # 1000, not inf or nan
"""),
    ]

    # ------------------------------------------------------------------ 5. MLP
    cells += [
        md(r"""
## 5. A two-layer network: backpropagation end to end

Now chain the pieces into a classifier with one hidden layer:

```
pre    = linear_forward(X, W1, b1)        # [N, H]
h      = relu_forward(pre)                # [N, H]
logits = linear_forward(h, W2, b2)        # [N, C]
loss   = softmax_cross_entropy_forward(logits, y)
```

**Backpropagation** is the chain rule applied in the reverse order of the forward pass,
each layer turning the gradient of its output into gradients of its inputs: start from
`dlogits`, go back through the second linear layer (which gives `dW2`, `db2` and `dh`), then
through the ReLU (`dpre`, using `pre`, the ReLU's *input*), then through the first linear
layer (`dW1`, `db1`). Keep what the backward passes need (`X`, `pre`, `h`) from the forward.

`params` is a dict `{"W1": ..., "b1": ..., "W2": ..., "b2": ...}`; return `(loss, grads)`
with `grads` a dict with the same keys, each gradient shaped like its parameter.

**Question 5.** Implement `mlp_loss_and_grads`. The public check gradient-checks all four
gradients with your `numerical_gradient`, then trains the network on a tiny problem. The
cell after the stub trains it on an XOR-like problem that no linear classifier can solve.
"""),
        *question("mlp", s, """
rng = np.random.default_rng(0)
X = rng.normal(size=(60, 2))
y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)        # XOR-like: not linearly separable
params = {"W1": rng.normal(size=(2, 16)) * 0.5, "b1": np.zeros(16),
          "W2": rng.normal(size=(16, 2)) * 0.5, "b2": np.zeros(2)}
for step in range(301):
    loss, grads = mlp_loss_and_grads(params, X, y)
    if step % 50 == 0:
        accuracy = np.mean(np.argmax(np.maximum(X @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"], axis=1) == y)
        print(f"step {step:3d}   loss {loss:.4f}   training accuracy {accuracy:.2f}")
    params = {k: params[k] - 0.5 * grads[k] for k in params}   # plain gradient descent
"""),
    ]

    # ------------------------------------------------------------------ 6. SGD with momentum
    cells += [
        md(r"""
## 6. SGD with momentum, exactly as `torch.optim.SGD`

Plain gradient descent steps along $-\nabla L$. **Momentum** keeps a running "velocity", a
decaying sum of past gradients, and steps along it: directions in which the gradient keeps
its sign build up speed, oscillating directions cancel out. PyTorch's `torch.optim.SGD`
(with its defaults `dampening=0`, `nesterov=False`) does, per step:

$$g = \nabla L + \lambda\, \theta, \qquad v \leftarrow \mu\, v + g, \qquad \theta \leftarrow \theta - \eta\, v$$

with learning rate $\eta$, momentum $\mu$, and weight decay $\lambda$ (an L2 penalty,
added to the gradient, and so carried by the velocity too). The velocity starts at 0.

Careful: other textbooks write $v \leftarrow \mu v - \eta g$, $\theta \leftarrow \theta + v$
or average $v \leftarrow \mu v + (1 - \mu) g$. With a fixed learning rate the first gives the
same parameters but a different $v$ (scaled by $-\eta$); the second is a different optimizer.
Ours must match PyTorch's, velocity included (it is `momentum_buffer` in the optimizer's
state).

**Worked example.** `param = [1, -2]`, `grad = [0.5, 1]`, `lr = 0.1`, `momentum = 0.9`,
velocity 0: the new velocity is `[0.5, 1]` and the new param `[0.95, -2.1]`. One more step
with the same gradient: velocity `[0.95, 1.9]`, param `[0.855, -2.29]`.

**Question 6.** Implement `sgd_momentum_step`. It returns `(new_param, new_velocity)` and
changes neither input.
"""),
        *question("sgd_momentum", s, """
p, v, g = np.array([1.0, -2.0]), np.zeros(2), np.array([0.5, 1.0])
p, v = sgd_momentum_step(p, g, v, 0.1, momentum=0.9)
print(p, v)      # [0.95, -2.1] [0.5, 1]
p, v = sgd_momentum_step(p, g, v, 0.1, momentum=0.9)
print(p, v)      # [0.855, -2.29] [0.95, 1.9]
"""),
    ]

    # ------------------------------------------------------------------ 7. AdamW
    cells += [
        md(r"""
## 7. AdamW, exactly as `torch.optim.AdamW`

Adam divides each parameter's step by a running estimate of the gradient's size, so every
parameter moves at roughly the same speed whatever the scale of its gradient. It keeps two
moving averages, of the gradient ($m$) and of its square ($v$), both starting at 0. Since
they start at 0 they are biased towards 0 in the first steps, and Adam corrects that:

$$m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \quad
\hat m = \frac{m}{1 - \beta_1^t}, \quad \hat v = \frac{v}{1 - \beta_2^t}, \quad
\theta \leftarrow \theta - \eta \frac{\hat m}{\sqrt{\hat v} + \epsilon}$$

where $t$ counts steps from 1. At $t = 1$ the correction makes $\hat m = g$ and
$\hat v = g^2$, so the first step moves every parameter by about $\eta$, in the direction
of $-\text{sign}(g)$. Without it, the first step would be $(1-\beta_1)/\sqrt{1-\beta_2}
\approx 3.2$ times larger with the default betas.

**AdamW** (Loshchilov & Hutter, "Decoupled Weight Decay Regularization") changes how
weight decay enters. Adding $\lambda\theta$ to the gradient (an L2 penalty, as SGD does)
does not work as intended in Adam, because the step is then divided by $\sqrt{\hat v}$
like the rest of the gradient. AdamW instead **shrinks the parameter directly**, before the
Adam update: $\theta \leftarrow \theta (1 - \eta \lambda)$. That is what
`torch.optim.AdamW` does, in that order; with `weight_decay=0` it is plain Adam.

**Worked examples.** At step 1 with `weight_decay=0`, `lr=0.1` and `grad = [0.1, -3, 0.001]`,
the parameter moves by (almost exactly) `[-0.1, +0.1, -0.1]`. At step 1 with a zero
gradient, `lr=0.1` and `weight_decay=0.5`, the parameter is multiplied by `0.95` and
nothing else happens (with an L2 penalty it would instead move by about `lr`).

**Question 7.** Implement `adamw_step`. It returns `(new_param, new_m, new_v)` (the
moving averages themselves, not the bias-corrected ones) and changes no input.
"""),
        *question("adamw", s, """
p, g = np.array([1.0, -2.0, 0.5]), np.array([0.1, -3.0, 0.001])
p1, m1, v1 = adamw_step(p, g, np.zeros(3), np.zeros(3), 1, lr=0.1, weight_decay=0.0)
print(p1 - p)                       # about [-0.1, 0.1, -0.1]
p1, _, _ = adamw_step(p, np.zeros(3), np.zeros(3), np.zeros(3), 1, lr=0.1, weight_decay=0.5)
print(p1 / p)                       # [0.95, 0.95, 0.95]

# SGD with momentum against Adam on a badly scaled quadratic, 0.5 * (p0**2 + 100 * p1**2):
# momentum oscillates along the steep p1 axis; Adam moves both coordinates at about lr per step.
scale = np.array([1.0, 100.0])
p_sgd, vel = np.array([-1.5, 1.0]), np.zeros(2)
p_adam, m, v = np.array([-1.5, 1.0]), np.zeros(2), np.zeros(2)
for t in range(1, 101):
    p_sgd, vel = sgd_momentum_step(p_sgd, scale * p_sgd, vel, 0.005, momentum=0.9)
    p_adam, m, v = adamw_step(p_adam, scale * p_adam, m, v, t, lr=0.05, weight_decay=0.0)
    if t in (1, 2, 5, 10, 50, 100):
        print(f"step {t:3d}   sgd_momentum {p_sgd}   adamw {p_adam}")
"""),
    ]

    # ------------------------------------------------------------------ submitting
    cells += [
        *submitting("backprop"),
    ]

    return finish(cells, "backprop")


if __name__ == "__main__":
    write(build, "backprop")
