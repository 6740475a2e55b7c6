"""Discretized logistic mixture with linear channel dependencies (PixelCNN++, Salimans et al. 2017).

Data rescaling: level k in 0..K-1 maps to the bin centre v = 2k/(K-1) - 1 in [-1, 1],
and each bin has half-width d = 1/(K-1). The edge bins extend to -inf (k = 0) and
+inf (k = K-1), so every component puts exactly total mass 1 on 0..K-1 (eq. 2).

Within a pixel, channel c of component m is a logistic with mean
``mu[m,c] + sum_{j<c} coeff[m,c,j] * v_j`` (eq. 3): the dependence on earlier
channels is inside the distribution, so ``autoregressive_channels = False``.
The mixture is over whole pixels:

    log p(pixel) = logsumexp_m [ log pi_m + sum_c log p_m(x_c | x_<c) ].
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .base import Distribution, check_temperature, compute_dtype, gumbel_argmax, tempered

MIN_LOG_SCALE = -7.0  # PixelCNN++ clamps predicted log-scales from below at -7.
# ... and pixelar from above at 20: a scale of e^20 (5e8 times the [-1, 1] data range) is already a
# flat distribution, no trained network comes near it (they sit below ~2), and it stays far from
# log-scale ~88.5, past which float32 CDF differences underflow and log-probs became -inf (at 1e4,
# NaN). A diverged network thus still gets finite nats.
MAX_LOG_SCALE = 20.0
_LN2 = math.log(2.0)
_U_EPS = 2.0 ** -24   # logistic noise uses u in [eps, 1 - eps]: tails beyond ~17 scales are cut


def log1mexp(t: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(-t)) for t > 0, accurate for all t (Maechler 2012).

    For small t, 1 - exp(-t) cancels, so use log(-expm1(-t)); for large t,
    exp(-t) is tiny, so use log1p(-exp(-t)). Each branch sees a clamped input so
    that the branch *not* taken never evaluates log(0): torch.where would
    otherwise propagate 0 * inf = NaN into the gradient.
    """
    small = t < _LN2
    t_small = t.clamp(max=_LN2)
    t_large = t.clamp(min=_LN2)
    return torch.where(small, torch.log(-torch.expm1(-t_small)), torch.log1p(-torch.exp(-t_large)))


def level_to_value(k: torch.Tensor, num_levels: int) -> torch.Tensor:
    """Bin centre v = 2k/(K-1) - 1 of integer level k (any shape), as float."""
    return k * (2.0 / (num_levels - 1)) - 1.0


def value_to_level(y: torch.Tensor, num_levels: int) -> torch.Tensor:
    """The level whose bin contains y (nearest centre, clamped to 0..K-1), int64."""
    return ((y + 1.0) * ((num_levels - 1) / 2.0)).clamp(0, num_levels - 1).round().long()


def discretized_logistic_log_prob(k: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor,
                                  num_levels: int) -> torch.Tensor:
    """log P(level k) in nats under one discretized logistic; all tensors broadcast together.

    k: integer levels 0..K-1; mean: in data units ([-1, 1] scale); log_scale: already clamped.
    """
    d = 1.0 / (num_levels - 1)
    v = level_to_value(k.to(mean.dtype), num_levels)
    inv_s = torch.exp(-log_scale)
    # Standardize the centre once and add the half-width afterwards, so that a and b share the
    # rounding of v - mean (exact when mean is within a factor 2 of v) and a - b is exactly 2d/s.
    centre = (v - mean) * inv_s
    half_width = d * inv_s
    a = centre + half_width             # standardized upper bin edge
    b = centre - half_width             # standardized lower bin edge
    log_cdf_a = -F.softplus(-a)         # log sigmoid(a): log CDF at the upper edge (edge bin k = 0)
    log_sf_b = -F.softplus(b)           # log(1 - sigmoid(b)): log survival at the lower edge (k = K-1)
    # Interior bins, exactly and stably:
    #   sigmoid(a) - sigmoid(b) = sigmoid(a) * (1 - sigmoid(b)) * (1 - exp(-(a - b)))
    # (equal to a - softplus(a) - softplus(b) + log1mexp(a - b)). a - b is the bin width in
    # scale units, computed directly as 2d/s rather than by subtracting a and b.
    # This replaces PixelCNN++'s "small probability" branch (for cdf_delta < 1e-5 it used
    # log pdf(bin centre) + log(2d)). That approximation is off by log(sinh(t/2) / (t/2)) nats
    # with t = 2d/s, however small the probability: measured for K = 256 it is 2.15 nats per
    # sub-pixel at log_scale = -7, 0.39 at -6, 0.056 at -5, 7.6e-3 at -4 (and ~360 nats at -7
    # for K = 4). Its float32 branch sigmoid(a) - sigmoid(b) also loses up to ~5e-3 nats to
    # cancellation in the upper tail. The form below has neither problem and no approximation.
    log_interior = log_cdf_a + log_sf_b + log1mexp(2.0 * half_width)
    return torch.where(k == 0, log_cdf_a, torch.where(k == num_levels - 1, log_sf_b, log_interior))


class DiscretizedLogisticMixture(Distribution):
    """Mixture of M discretized logistics per pixel with linear R -> G -> B coupling.

    Parameter layout per pixel (P = M * (1 + 2C + C(C-1)/2) channels; 100 for C=3, M=10;
    30 for C=1, M=10), indices into dim 1 of ``params`` (N, P, H, W):

    * ``[0, M)``: mixture logits, component m at m;
    * ``[M, M + CM)``: means, channel c / component m at ``M + c*M + m``;
    * ``[M + CM, M + 2CM)``: log-scales (clamped to [-7, 20]), same order as means;
    * ``[M + 2CM, P)``: coupling coefficients (through tanh), pair p / component m at
      ``M + 2CM + p*M + m``, with pairs (c, j), j < c, ordered (1,0), (2,0), (2,1), (3,0), ...
      so p = c(c-1)/2 + j.

    Channel c of component m has mean ``mu[m,c] + sum_{j<c} coeff[m,(c,j)] * v_j`` where
    v_j is the (rescaled) value of channel j of the same pixel.
    """

    name = "logistic_mixture"
    sample_options = frozenset({"log_scale_shift", "log_variance_shift", "map_sampling"})
    autoregressive_channels = False

    def __init__(self, num_channels: int, num_levels: int = 256, num_mixtures: int = 10) -> None:
        super().__init__(num_channels, num_levels)
        if num_mixtures < 1:
            raise ValueError(f"logistic_mixture: num_mixtures must be >= 1, got {num_mixtures}")
        self.num_mixtures = num_mixtures

    @property
    def num_pairs(self) -> int:
        """Number of coupling coefficients per component, C(C-1)/2."""
        return self.num_channels * (self.num_channels - 1) // 2

    @property
    def num_params(self) -> int:
        return self.num_mixtures * (1 + 2 * self.num_channels + self.num_pairs)

    # ---- network output -> conditional parameters ---------------------------------
    def split_params(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, P, H, W) -> log_pi (N, M, H, W), means (N, C, M, H, W),
        log_scales (N, C, M, H, W) clamped to [-7, 20], coeffs (N, C(C-1)/2, M, H, W) in (-1, 1).

        Always float32 or wider, whatever the dtype of ``params``.
        """
        n, _, h, w = params.shape
        c, m = self.num_channels, self.num_mixtures
        params = params.to(compute_dtype(params))
        log_pi = F.log_softmax(params[:, :m], dim=1)
        means = params[:, m:m + c * m].reshape(n, c, m, h, w)
        log_scales = params[:, m + c * m:m + 2 * c * m].reshape(n, c, m, h, w).clamp(MIN_LOG_SCALE, MAX_LOG_SCALE)
        coeffs = torch.tanh(params[:, m + 2 * c * m:].reshape(n, self.num_pairs, m, h, w))
        return log_pi, means, log_scales, coeffs

    def pack_params(self, logits: torch.Tensor, means: torch.Tensor, log_scales: torch.Tensor,
                    coeff_logits: torch.Tensor) -> torch.Tensor:
        """Inverse of the layout: logits (N, M, H, W), means and log_scales (N, C, M, H, W),
        coeff_logits (N, C(C-1)/2, M, H, W) (pre-tanh) -> params (N, P, H, W)."""
        n, _, h, w = logits.shape
        return torch.cat([logits, means.reshape(n, -1, h, w), log_scales.reshape(n, -1, h, w),
                          coeff_logits.reshape(n, -1, h, w)], dim=1)

    def _coupled_mean(self, means: torch.Tensor, coeffs: torch.Tensor, values: list[torch.Tensor],
                      c: int) -> torch.Tensor:
        """Mean of channel c: means[:, c] + sum_{j<c} coeffs[:, (c,j)] * values[j] (broadcast)."""
        mean = means[:, c]
        for j in range(c):
            mean = mean + coeffs[:, c * (c - 1) // 2 + j] * values[j]
        return mean

    # ---- log-probabilities -------------------------------------------------------
    def component_log_probs(self, params: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi (N, M, H, W) and log p_m(x_c | x_<c) per component, (N, C, M, H, W), nats."""
        log_pi, means, log_scales, coeffs = self.split_params(params)
        k = x.long().unsqueeze(2)                                   # (N, C, 1, H, W)
        v = level_to_value(k.to(means.dtype), self.num_levels)      # true values of the data
        mean = torch.stack([self._coupled_mean(means, coeffs, [v[:, j] for j in range(c)], c)
                            for c in range(self.num_channels)], dim=1)   # (N, C, M, H, W)
        return log_pi, discretized_logistic_log_prob(k, mean, log_scales, self.num_levels)

    def dequantized_log_prob(self, params: torch.Tensor, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """log q(x + u) in nats per image, (N,): the *continuous* mixture density (PixelCNN++ §3.4.2).

        z = x + u with u ~ U[0, 1)^D lives in [0, K); in data units y = 2z/K - 1, so
        log q_z = log q_y + log(2/K) per sub-pixel. E_u[-log q(x + u)] >= -log P(x) for the
        sub-normalized P(x) = ∫_cell q (Jensen): this is a variational *upper bound* on the
        negative log-likelihood, never an exact figure.
        """
        self.check_input(params, x)
        log_pi, means, log_scales, coeffs = self.split_params(params)
        y = (x.to(means.dtype) + u.to(means.dtype)) * (2.0 / self.num_levels) - 1.0   # (N, C, H, W)
        y = y.unsqueeze(2)                                                            # (N, C, 1, H, W)
        total = log_pi                                                                # (N, M, H, W)
        for c in range(self.num_channels):
            mean = self._coupled_mean(means, coeffs, [y[:, j] for j in range(c)], c)
            z = (y[:, c] - mean) * torch.exp(-log_scales[:, c])
            # log logistic pdf: -z - log s - 2 softplus(-z)
            total = total + (-z - log_scales[:, c] - 2.0 * F.softplus(-z))
        per_pixel = torch.logsumexp(total, dim=1)                                    # (N, H, W)
        jacobian = self.num_channels * math.log(2.0 / self.num_levels)
        return (per_pixel + jacobian).sum(dim=(1, 2))

    def log_prob_elementwise(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x_c | x_<c, earlier pixels) in nats, (N, C, H, W); the sum over C is log p(pixel).

        params: (N, P, H, W) any float dtype (computed in float32 or wider); x: (N, C, H, W)
        integer in 0..K-1. With A_c = logsumexp_m [log pi_m + sum_{j<=c} log p_m(x_j | x_<j)]
        and A_{-1} = 0, channel c gets A_c - A_{c-1}: the conditional of channel c under the
        posterior over components given x_<c. Each is a normalized distribution over x_c, and
        the channel sum telescopes to the exact joint log-likelihood of the pixel.
        """
        self.check_input(params, x)
        log_pi, comp = self.component_log_probs(params, x)          # (N, M, H, W), (N, C, M, H, W)
        # A_c - A_{c-1} = logsumexp_m [log q_m^(c) + log p_m(x_c | x_<c)] with the posterior
        # q^(c) = softmax_m(log pi_m + sum_{j<c} log p_m(x_j | x_<j)). Computing it this way
        # instead of subtracting A_{c-1} avoids cancelling two large numbers when every
        # component finds x_<c improbable (float32 would lose ~1e-7 * |A_{c-1}| nats).
        before = F.pad(comp.cumsum(dim=1)[:, :-1], (0, 0, 0, 0, 0, 0, 1, 0))  # sum_{j<c}, (N, C, M, H, W)
        log_posterior = F.log_softmax(log_pi.unsqueeze(1) + before, dim=2)
        return torch.logsumexp(log_posterior + comp, dim=2)          # (N, C, H, W)

    # ---- sampling and MAP --------------------------------------------------------
    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None,
               temperature: float = 1.0, channel: int | None = None,
               log_scale_shift: float = 0.0, map_sampling: bool = False,
               log_variance_shift: float = 0.0) -> torch.Tensor:
        """Exact draw of whole pixels, (N, C, H, W) int64.

        1. component m ~ Categorical(softmax(logits / T)) per pixel (Gumbel-max, M uniforms);
        2. for c = 0..C-1: y = mean_c + s_c * T * logit(u), u ~ U[eps, 1-eps] (one uniform per
           sub-pixel), where mean_c couples to the *discretized* samples of channels j < c
           (their bin centres, exactly as log_prob sees data), and s_c = exp(log_scale - shift);
        3. round y to the level whose bin contains it (edge bins take everything beyond).

        ``log_scale_shift`` > 0 gives reduced-variance samples; T = 1 and shift 0 sample the
        model's distribution exactly (up to the 2**-24 truncation of the logistic tails).
        ``log_variance_shift`` c is the same control in Kolesnikov & Lampert's units ("subtracting
        constants ... from the predicted log-variance"): a logistic's variance is s²π²/3, so
        log-variance = 2·log s + log(π²/3) and c lowers every log-scale by c/2. The two add up.
        ``map_sampling`` (Kolesnikov & Lampert §4.2): sample the component, then take its mode
        per channel (the bin of the coupled mean, clamped to the edge bins) instead of step 2's noise.
        """
        check_temperature(temperature)
        self.check_channel(channel)
        log_pi, means, log_scales, coeffs = self.split_params(params)
        n, _, h, w = log_pi.shape
        comp = gumbel_argmax(tempered(log_pi, temperature, 1), dim=1, generator=generator)    # (N, H, W)
        if map_sampling:
            noise = means.new_zeros((n, self.num_channels, h, w))                # the component's mode
        else:
            u = torch.rand((n, self.num_channels, h, w), generator=generator, device=log_pi.device,
                           dtype=torch.float32).clamp(_U_EPS, 1.0 - _U_EPS).to(means.dtype)
            noise = torch.log(u) - torch.log1p(-u)                                # standard logistic
        means, log_scales, coeffs = (_pick(t, comp) for t in (means, log_scales, coeffs))
        shift = log_scale_shift + 0.5 * log_variance_shift                       # in log-scale units
        scales = torch.exp(log_scales - shift) * temperature                     # (N, C, H, W)
        levels: list[torch.Tensor] = []
        values: list[torch.Tensor] = []
        for c in range(self.num_channels):
            y = self._coupled_mean(means, coeffs, values, c) + scales[:, c] * noise[:, c]
            levels.append(value_to_level(y, self.num_levels))
            values.append(level_to_value(levels[-1].to(means.dtype), self.num_levels))
        return torch.stack(levels, dim=1)

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        """A deterministic decoding, (N, C, H, W) int64. Not Kolesnikov & Lampert's §4.2 MAP sampling,
        which *samples* the component by its weight (``sample(map_sampling=True)``).

        Take the most likely component per pixel, then channel by channel the most likely
        level of that component given the levels already chosen: the bin nearest the
        coupled mean, unless an edge bin (which also holds the tail) has more mass.
        """
        log_pi, means, log_scales, coeffs = self.split_params(params)
        comp = log_pi.argmax(dim=1)                                               # (N, H, W)
        means, log_scales, coeffs = (_pick(t, comp) for t in (means, log_scales, coeffs))
        k_max = self.num_levels - 1
        levels: list[torch.Tensor] = []
        values: list[torch.Tensor] = []
        for c in range(self.num_channels):
            mean = self._coupled_mean(means, coeffs, values, c)
            nearest = value_to_level(mean, self.num_levels)
            candidates = torch.stack([torch.zeros_like(nearest), nearest, torch.full_like(nearest, k_max)])
            log_p = discretized_logistic_log_prob(candidates, mean, log_scales[:, c], self.num_levels)
            best = candidates.gather(0, log_p.argmax(dim=0, keepdim=True)).squeeze(0)
            levels.append(best)
            values.append(level_to_value(best.to(means.dtype), self.num_levels))
        return torch.stack(levels, dim=1)

    def uniform_params(self, n: int, height: int, width: int) -> torch.Tensor:
        """Not available: no finite logistic mixture puts exactly 1/K on each of K > 3 bins."""
        raise NotImplementedError(
            "logistic_mixture: a mixture of discretized logistics cannot represent the exactly "
            "uniform distribution over the levels, so it has no uniform_params; use the "
            "'categorical' distribution for the exact log2(K) bits/dim check")


def _pick(t: torch.Tensor, comp: torch.Tensor) -> torch.Tensor:
    """Select component comp (N, H, W) from t (N, X, M, H, W) -> (N, X, H, W)."""
    n, x, _, h, w = t.shape
    return t.gather(2, comp.view(n, 1, 1, h, w).expand(n, x, 1, h, w)).squeeze(2)
