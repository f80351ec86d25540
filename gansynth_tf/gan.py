"""GANSynth training: the progressive schedule, the losses, and the :class:`GANSynthTask`.

Schedule (Magenta's ``networks.compute_progress``): with S stable and T transition images
per stage and N resolutions, ``images = step * global_batch``, capped at ``N*S + (N-1)*T - 1``;
``progress = images // (S+T) + max(0, (images % (S+T) - S) / T)``, a float in [0, N-1]
(integer at stable stages). Everything derives from the checkpointed step, so a run
resumed in the middle of a stage continues the same schedule.

Losses (Magenta's ``train_util.define_loss`` and ``model.py``), every term averaged over
the *global* batch with :func:`tfmusic.training.global_batch_mean`:

* discriminator: ``D(fake) - D(real)`` (Wasserstein) ``+ gp_weight * (||grad D(x_hat)|| /
  target - 1)^2`` (x_hat on the line between real and fake; by default the gradient is
  taken with respect to the un-normalised specgram, as Magenta's discriminator normalises
  its input itself) ``+ drift * D(real)^2 + ac_weight * CE(class(real), real pitch)``;
* generator: ``-D(fake) + ac_weight * CE(class(fake), fake pitch)``.

All randomness (latents, fake pitches, gradient-penalty mixing) comes from the input
pipeline, keyed by each example's position in the stream, so a run on R replicas sees the
same numbers as a run on one replica with the same global batch.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from gansynth_tf import config as config_lib
from gansynth_tf import layers as L
from gansynth_tf.discriminator import build_discriminator
from gansynth_tf.generator import Generator, build_generator
from tfmusic import runtime as runtime_lib
from tfmusic import training

DatasetFn = Callable[[tf.distribute.InputContext], tf.data.Dataset]

# The step functions have no data-dependent Python control flow; skipping AutoGraph's
# source transformation saves most of the tracing time.
_no_autograph = tf.autograph.experimental.do_not_convert


# --------------------------------------------------------------------------- schedule


@dataclasses.dataclass(frozen=True)
class ProgressiveSchedule:
    """Where progressive training stands after a number of images.

    Stages alternate stable (even stage ids: one resolution) and transition (odd: the
    next resolution fades in); there are ``2 * num_resolutions - 1`` stages.
    """

    num_resolutions: int
    stable_stage_num_images: int
    transition_stage_num_images: int
    progressive: bool = True

    @classmethod
    def from_config(cls, model_config: config_lib.GANConfig) -> "ProgressiveSchedule":
        return cls(
            model_config.num_resolutions,
            model_config.stable_stage_num_images,
            model_config.transition_stage_num_images,
            model_config.progressive,
        )

    @property
    def min_total_num_images(self) -> int:
        n = self.num_resolutions
        return n * self.stable_stage_num_images + (n - 1) * self.transition_stage_num_images

    def images_at_progress(self, progress: float) -> int:
        """Images seen when the schedule reaches ``progress`` (inverse of :meth:`progress`):
        ``k`` is the start of stable stage k, ``k + f`` a fraction ``f`` into the following transition."""
        whole = int(np.floor(progress))
        frac = float(progress) - whole
        stage_len = self.stable_stage_num_images + self.transition_stage_num_images
        images = whole * stage_len
        if frac > 0:
            images += self.stable_stage_num_images + int(round(frac * self.transition_stage_num_images))
        return images

    def stage_of(self, images: int) -> int:
        """Python-int twin of :meth:`stage` for a host-side image count (picks the compiled
        program of a step: :meth:`GANSynthTask.step_variant`)."""
        if not self.progressive:
            return 2 * (self.num_resolutions - 1)
        capped = min(int(images), self.min_total_num_images - 1)
        whole, rest = divmod(capped, self.stable_stage_num_images + self.transition_stage_num_images)
        return 2 * whole + int(rest >= self.stable_stage_num_images)

    def _split(self, images):
        images = tf.cast(images, tf.int64)
        capped = tf.minimum(images, self.min_total_num_images - 1)
        stage_len = self.stable_stage_num_images + self.transition_stage_num_images
        whole = capped // stage_len
        rest = capped % stage_len
        return whole, rest

    def progress(self, images) -> tf.Tensor:
        """float32 scalar in [0, num_resolutions - 1]."""
        if not self.progressive:
            return tf.constant(float(self.num_resolutions - 1))
        whole, rest = self._split(images)
        frac = tf.maximum(
            0.0, tf.cast(rest - self.stable_stage_num_images, tf.float32) / float(self.transition_stage_num_images)
        )
        return tf.cast(whole, tf.float32) + frac

    def in_transition(self, images) -> tf.Tensor:
        """bool scalar: a resolution is fading in."""
        if not self.progressive:
            return tf.constant(False)
        _, rest = self._split(images)
        return rest >= self.stable_stage_num_images

    def stage(self, images) -> tf.Tensor:
        """int32 stage id: 2k at the k-th stable stage, 2k+1 during the k-th transition."""
        if not self.progressive:
            return tf.constant(2 * (self.num_resolutions - 1), tf.int32)
        whole, _ = self._split(images)
        return tf.cast(2 * whole, tf.int32) + tf.cast(self.in_transition(images), tf.int32)

    def fade_alpha(self, images) -> tf.Tensor:
        """float32 weight of the newest resolution: rises 0 -> 1 during a transition, 1 when stable."""
        p = self.progress(images)
        return tf.where(self.in_transition(images), p - tf.floor(p), 1.0)

    def resolution_index(self, images) -> tf.Tensor:
        """int32 number of active blocks (the highest one with non-zero weight)."""
        return tf.cast(tf.math.ceil(self.progress(images)), tf.int32) + 1


# --------------------------------------------------------------------------- losses


@_no_autograph
def gradient_penalty(
    critic: Callable[[tf.Tensor], tf.Tensor],
    real: tf.Tensor,
    fake: tf.Tensor,
    mix: tf.Tensor,
    target: float = 1.0,
    epsilon: float = 1e-10,
    channel_scale: Optional[Sequence[float]] = None,
) -> tf.Tensor:
    """WGAN-GP per example: ``(||grad_x critic(x)|| / target - 1)^2`` at ``x = real + mix * (fake - real)``.

    Args:
      critic: [B, ...] -> scores [B].
      real, fake: [B, ...] float32.
      mix: [B] mixing weights in [0, 1].
      target: the gradient norm aimed at (1).
      epsilon: added under the square root (keeps its gradient finite at 0).
      channel_scale: per-channel factors [C] applied to the gradient before its norm. With the
        normaliser's scales ``a`` this is the gradient with respect to the un-normalised
        specgram (``x = a * raw + b``), which is where Magenta takes the penalty.
    Returns float32 [B].
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    mix = tf.reshape(tf.cast(mix, tf.float32), [-1] + [1] * (real.shape.rank - 1))
    x_hat = real + mix * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        scores = tf.cast(critic(x_hat), tf.float32)
    grads = tape.gradient(scores, x_hat)  # sums over the batch; examples are independent
    if channel_scale is not None:
        grads = grads * tf.constant(channel_scale, tf.float32)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=list(range(1, grads.shape.rank))) + epsilon)
    return tf.square(norms / target - 1.0)


def _ce(labels, logits):
    return tf.nn.softmax_cross_entropy_with_logits(labels=tf.stop_gradient(labels), logits=logits)


def _correct(labels, logits):
    return tf.cast(tf.equal(tf.argmax(labels, -1), tf.argmax(logits, -1)), tf.float32)


# --------------------------------------------------------------------------- EMA


class GeneratorEMA(tf.Module):
    """Exponential moving average of the generator's weights (Magenta's generator smoothing).

    Its variables live beside the generator's under the strategy and are checkpointed;
    :meth:`update` runs in replica context; :meth:`copy_to` loads them into another
    generator (e.g. one used for sampling).
    """

    def __init__(self, generator: Generator, decay: float):
        super().__init__(name="generator_ema")
        self.decay = float(decay)
        self.averages = [
            tf.Variable(
                v.numpy(),
                trainable=False,
                name=v.path.replace("/", "__"),
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            for v in generator.weights
        ]
        self._sources = list(generator.weights)

    def update(self) -> None:
        d = self.decay
        for avg, src in zip(self.averages, self._sources):
            avg.assign(d * avg + (1.0 - d) * tf.cast(src.value, avg.dtype))

    def copy_to(self, generator: Generator) -> None:
        for avg, dst in zip(self.averages, generator.weights):
            dst.assign(avg.read_value())


# --------------------------------------------------------------------------- task


def synthetic_specgrams(
    num_examples: int, spec_shape: Tuple[int, int], num_pitches: int, seed: int = 0
) -> Tuple[np.ndarray, np.ndarray]:
    """Sinusoid-like normalised specgrams and their one-hot pitches, for tests and demos.

    Each example is a harmonic stack whose fundamental's frequency row rises with its pitch:
    channel 0 (log magnitude) peaks at the harmonics and decays over time, channel 1 (IF)
    is constant along time at the harmonic bins. Values in [-1, 1].
    Returns (float32 [n, frames, freq, 2], float32 [n, num_pitches]).
    """
    rng = np.random.default_rng(seed)
    frames, freq = spec_shape
    pitches = rng.integers(0, num_pitches, size=num_examples)
    t = np.arange(frames)[:, None] / max(frames - 1, 1)
    f = np.arange(freq)[None, :]
    specs = np.zeros((num_examples, frames, freq, 2), np.float32)
    for i, p in enumerate(pitches):
        f0 = 1.0 + (freq / 4.0) * (p + 0.5) / num_pitches
        mag = np.full((frames, freq), -0.8)
        ifreq = np.zeros((frames, freq))
        for h in range(1, 5):
            bump = np.exp(-0.5 * ((f - h * f0) / 0.7) ** 2)
            mag = mag + 1.6 * bump * np.exp(-2.0 * t) / h
            ifreq = ifreq + bump * ((h * f0) % 1.0 - 0.5)
        specs[i, ..., 0] = np.clip(mag + 0.05 * rng.normal(size=mag.shape), -1, 1)
        specs[i, ..., 1] = np.clip(ifreq + 0.05 * rng.normal(size=mag.shape), -1, 1)
    one_hot = np.eye(num_pitches, dtype=np.float32)[pitches]
    return specs, one_hot


def synthetic_dataset_fn(num_examples: int, spec_shape: Tuple[int, int], num_pitches: int, seed: int = 0) -> DatasetFn:
    """A dataset function over :func:`synthetic_specgrams`, sharded by input pipeline."""
    specs, one_hot = synthetic_specgrams(num_examples, spec_shape, num_pitches, seed)

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((specs, one_hot))
        return ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)

    return dataset_fn


class InputState(tf.Module):
    """Checkpointed position of the input stream: images consumed after the last step."""

    def __init__(self):
        super().__init__(name="input_state")
        self.images_seen = tf.Variable(
            0,
            dtype=tf.int64,
            trainable=False,
            name="images_seen",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )


class GANSynthTask(training.Task):
    """GANSynth as a :class:`tfmusic.training.Task`: a discriminator phase, then a generator phase.

    Args:
      config: the :class:`gansynth_tf.config.GANSynthExperiment`.
      dataset_fn: ``input_context -> tf.data.Dataset`` of *unbatched* pairs ``(specgram float32
        [frames, freq, 2] normalised to [-1, 1], one_hot_pitch float32 [num_pitches])``,
        already sharded for ``input_context.input_pipeline_id`` when there are several input
        pipelines (multi-worker). It is repeated, paired with latents, and batched here.
      specgrams_helper: a :class:`gansynth_tf.specgrams.SpecgramsHelper`; with ``normalizer``
        (a :class:`gansynth_tf.normalizer.SpecgramNormalizer`) ``write_media`` also writes audio.
      normalizer: see above; its per-channel scales also set the gradient penalty's units
        (``model.gradient_penalty_space``). Without one, ``data.prespecified_normalizer`` is used.
      pitch_prior: probabilities [num_pitches] of the pitches given to the generator (Magenta
        samples the training set's pitch counts); None = uniform.
      num_media_examples: specgrams generated per ``write_media`` call.
      per_stage_programs: with a progressive schedule, compile one step program per stage that runs
        only that stage's blocks (:meth:`step_variant`; the same results, lower stages cheaper);
        False: one program running every block at every stage.

    Attributes after :meth:`build`: ``generator``, ``discriminator``, ``g_optimizer``,
    ``d_optimizer``, ``ema`` (or None). With ``config.warm_start.magenta_dir`` the networks and the
    moving average start from a Magenta GANSynth folder's final stage
    (:func:`gansynth_tf.convert_magenta.warm_start_from_magenta`, in :meth:`initialize`); a resumed
    run restores its own checkpoint instead.
    """

    xla_family = runtime_lib.GANSYNTH

    def __init__(
        self,
        config: config_lib.GANSynthExperiment,
        dataset_fn: DatasetFn,
        specgrams_helper=None,
        normalizer=None,
        pitch_prior: Optional[Sequence[float]] = None,
        num_media_examples: int = 4,
        per_stage_programs: bool = True,
    ):
        self.config = config
        self.model_config = config.model
        self.dataset_fn = dataset_fn
        self.specgrams_helper = specgrams_helper
        self.normalizer = normalizer
        self.num_pitches = config.data.num_pitches
        if pitch_prior is not None:
            prior = np.asarray(pitch_prior, np.float64)
            if prior.shape != (self.num_pitches,) or np.any(prior < 0) or prior.sum() <= 0:
                raise ValueError(f"pitch_prior must be {self.num_pitches} non-negative weights")
            self.pitch_logits = np.log(np.maximum(prior / prior.sum(), 1e-30)).astype(np.float32)
        else:
            self.pitch_logits = np.zeros([self.num_pitches], np.float32)
        self.num_media_examples = int(num_media_examples)
        self.gp_channel_scale = self._gp_channel_scale()
        self.schedule = ProgressiveSchedule.from_config(config.model)
        self.global_batch_size = config.trainer.global_batch_size
        #: One compiled program per progressive stage, running only its blocks (:meth:`step_variant`);
        #: False: one program for the whole schedule, every block at every stage (the results are the same).
        self.per_stage_programs = bool(per_stage_programs)
        self._sampler: Optional[Generator] = None

    def _gp_channel_scale(self) -> Optional[Tuple[float, ...]]:
        """The normaliser's per-channel scales when the penalty is taken in specgram units."""
        if self.model_config.gradient_penalty_space == "normalized":
            return None
        if self.normalizer is not None:
            return tuple(float(a) for a in self.normalizer.a)
        if self.config.data.normalizer_path:
            raise ValueError(
                "model.gradient_penalty_space='specgram' needs the fitted normaliser of "
                f"data.normalizer_path={self.config.data.normalizer_path!r}: pass it as `normalizer`"
            )
        mag_a, _, p_a, _ = self.config.data.prespecified_normalizer
        return (float(mag_a), float(p_a))

    # ------------------------------------------------------------------ build

    def build(self) -> None:
        m = self.model_config
        keras.utils.set_random_seed(m.seed)
        self.generator = build_generator(m, self.num_pitches)
        self.discriminator = build_discriminator(m, self.num_pitches)
        self.g_optimizer = keras.optimizers.Adam(
            m.generator_learning_rate, beta_1=m.adam_beta1, beta_2=m.adam_beta2, epsilon=m.adam_epsilon, name="g_adam"
        )
        self.d_optimizer = keras.optimizers.Adam(
            m.discriminator_learning_rate,
            beta_1=m.adam_beta1,
            beta_2=m.adam_beta2,
            epsilon=m.adam_epsilon,
            name="d_adam",
        )
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.ema = GeneratorEMA(self.generator, m.generator_ema_decay) if m.generator_ema_decay > 0 else None
        # Set at the start of every step from the global step; derived, so not checkpointed.
        self.progress_var = tf.Variable(
            0.0, trainable=False, name="progress", aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA
        )
        self.input_state = InputState()

    def initialize(self, step: tf.Variable) -> Optional[str]:
        """A new run with ``warm_start.magenta_dir``: the generator, its moving average and the
        discriminator from that Magenta GANSynth folder's final stage
        (:func:`gansynth_tf.convert_magenta.warm_start_from_magenta`; the optimizers start fresh).
        A resumed run restores its own checkpoint instead and never reads the folder again."""
        if self.config.warm_start.magenta_dir:
            from gansynth_tf.convert_magenta import warm_start_from_magenta

            warm_start_from_magenta(
                self.config.warm_start.magenta_dir,
                self.generator,
                self.discriminator,
                self.ema.averages if self.ema is not None else None,
                self.model_config.num_resolutions,
            )
        return None

    def after_restore(self) -> Optional[str]:
        """A resumed run trains at the config's learning rates, not the checkpoint's (lowering them
        for the last steps of a run is the usual way to settle a GAN)."""
        m = self.model_config
        said = [
            training.reapply_learning_rate(
                self.g_optimizer, m.generator_learning_rate, "model.generator_learning_rate"
            ),
            training.reapply_learning_rate(
                self.d_optimizer, m.discriminator_learning_rate, "model.discriminator_learning_rate"
            ),
        ]
        return "; ".join(s for s in said if s) or None

    def checkpoint_items(self) -> Dict[str, Any]:
        items = {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "g_optimizer": self.g_optimizer,
            "d_optimizer": self.d_optimizer,
        }
        if self.ema is not None:
            items["generator_ema"] = self.ema
        items["input_state"] = self.input_state
        return items

    # ------------------------------------------------------------------ inputs

    @_no_autograph
    def _add_randomness(self, index, example):
        """Attach latents, fake pitches and GP mixing weights keyed by the stream position."""
        spec, pitch = example
        m = self.model_config
        seed = tf.stack([tf.constant(m.seed, tf.int64), index])
        seeds = tf.random.experimental.stateless_split(seed, 5)
        logits = tf.constant(self.pitch_logits)[None]
        fake_d = tf.random.stateless_categorical(logits, 1, seed=seeds[2])[0, 0]
        fake_g = tf.random.stateless_categorical(logits, 1, seed=seeds[3])[0, 0]
        return {
            "real": tf.ensure_shape(tf.cast(spec, tf.float32), list(self.config.data.spectral.spec_shape) + [2]),
            "real_pitch": tf.ensure_shape(tf.cast(pitch, tf.float32), [self.num_pitches]),
            "z_d": tf.random.stateless_normal([m.latent_size], seed=seeds[0]),
            "z_g": tf.random.stateless_normal([m.latent_size], seed=seeds[1]),
            "fake_pitch_d": tf.one_hot(fake_d, self.num_pitches),
            "fake_pitch_g": tf.one_hot(fake_g, self.num_pitches),
            "gp_mix": tf.random.stateless_uniform([], seed=seeds[4]),
        }

    def build_inputs(self, input_context: tf.distribute.InputContext) -> tf.data.Dataset:
        batch = input_context.get_per_replica_batch_size(self.global_batch_size)
        n, p = input_context.num_input_pipelines, input_context.input_pipeline_id
        # A resumed run draws fresh latents: the stream position continues from the checkpoint
        # (the data itself restarts, as input pipelines do).
        start = int(self.input_state.images_seen.numpy()) // n
        ds = self.dataset_fn(input_context).repeat().enumerate(start=start)
        # Example j of pipeline p is example j * n + p of the shared stream (round-robin shards).
        ds = ds.map(lambda j, ex: self._add_randomness(j * n + p, ex), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ step

    @_no_autograph
    def on_step_begin(self, step: tf.Tensor) -> training.Logs:
        images = tf.cast(step, tf.int64) * self.global_batch_size
        progress = self.schedule.progress(images)
        self.progress_var.assign(progress)
        self.input_state.images_seen.assign(images + self.global_batch_size)
        if self.ema is not None:
            # Folds in the weights after the previous step's generator update.
            self.ema.update()
        n = tf.cast(tf.distribute.get_replica_context().num_replicas_in_sync, tf.float32)
        # Logs are summed over replicas: divide the replica-invariant values.
        return {
            "schedule/progress": progress / n,
            "schedule/fade_alpha": self.schedule.fade_alpha(images) / n,
            "schedule/stage": tf.cast(self.schedule.stage(images), tf.float32) / n,
            "schedule/images_seen": tf.cast(images, tf.float32) / n,
        }

    def step_variant(self, step: int) -> Optional[int]:
        """The progressive stage of training step ``step`` (:meth:`ProgressiveSchedule.stage_of`): the
        runner compiles one program per stage, each running only that stage's blocks
        (:func:`gansynth_tf.layers.stage_blocks`). None (one program, every block) when
        ``model.progressive`` is false or the task was made with ``per_stage_programs=False``."""
        if not (self.schedule.progressive and self.per_stage_programs):
            return None
        return self.schedule.stage_of(int(step) * self.global_batch_size)

    @_no_autograph
    def _d_loss(self, inputs, stage: Optional[int] = None):
        gbs = self.global_batch_size
        m = self.model_config
        progress = tf.convert_to_tensor(self.progress_var)
        real = L.blend_resolutions(inputs["real"], progress, m.num_resolutions, m.scale_base, stage=stage)
        fake = tf.stop_gradient(
            self.generator((inputs["z_d"], inputs["fake_pitch_d"]), progress=progress, training=True, stage=stage)
        )
        d_real, cls_real = self.discriminator(real, progress=progress, training=True, stage=stage)
        d_fake, cls_fake = self.discriminator(fake, progress=progress, training=True, stage=stage)
        gp = gradient_penalty(
            lambda x: self.discriminator(x, progress=progress, training=True, stage=stage)[0],
            real,
            fake,
            inputs["gp_mix"],
            target=m.gradient_penalty_target,
            channel_scale=self.gp_channel_scale,
        )
        ac_real = _ce(inputs["real_pitch"], cls_real)
        per_example = (
            d_fake
            - d_real
            + m.gradient_penalty_weight * gp
            + m.real_score_penalty_weight * tf.square(d_real)
            + m.discriminator_ac_loss_weight * ac_real
        )
        mean = lambda x: training.global_batch_mean(x, gbs)
        logs = {
            "wasserstein": mean(d_fake - d_real),
            "gradient_penalty": mean(gp),
            "real_score_penalty": mean(tf.square(d_real)),
            "real_ac_loss": mean(ac_real),
            "real_score": mean(d_real),
            "fake_score": mean(d_fake),
            "real_class_accuracy": mean(_correct(inputs["real_pitch"], cls_real)),
            "fake_class_accuracy": mean(_correct(inputs["fake_pitch_d"], cls_fake)),
        }
        return mean(per_example), logs

    @_no_autograph
    def _g_loss(self, inputs, stage: Optional[int] = None):
        gbs = self.global_batch_size
        m = self.model_config
        progress = tf.convert_to_tensor(self.progress_var)
        fake = self.generator((inputs["z_g"], inputs["fake_pitch_g"]), progress=progress, training=True, stage=stage)
        d_fake, cls_fake = self.discriminator(fake, progress=progress, training=True, stage=stage)
        ac_fake = _ce(inputs["fake_pitch_g"], cls_fake)
        per_example = -d_fake + m.generator_ac_loss_weight * ac_fake
        mean = lambda x: training.global_batch_mean(x, gbs)
        logs = {
            "fake_ac_loss": mean(ac_fake),
            "fake_score": mean(d_fake),
            "fake_class_accuracy": mean(_correct(inputs["fake_pitch_g"], cls_fake)),
        }
        return mean(per_example), logs

    def phases(self) -> Sequence[training.GradientPhase]:
        return self.variant_phases(None)

    def variant_phases(self, variant: Optional[int]) -> Sequence[training.GradientPhase]:
        """The two phases restricted to progressive stage ``variant`` (None: every block, any progress).
        Both still update every variable of their network: the blocks left out get zero gradients
        (from the runner), exactly what they get when they run with weight 0, so Adam's moments evolve
        the same."""
        d_loss = self._d_loss if variant is None else functools.partial(self._d_loss, stage=int(variant))
        g_loss = self._g_loss if variant is None else functools.partial(self._g_loss, stage=int(variant))
        return [
            training.GradientPhase("d", d_loss, lambda: self.discriminator.trainable_variables, self.d_optimizer),
            training.GradientPhase("g", g_loss, lambda: self.generator.trainable_variables, self.g_optimizer),
        ]

    # ------------------------------------------------------------------ sampling and media

    def sampling_generator(self) -> Generator:
        """A generator holding the smoothed (EMA) weights, or the trained ones without EMA.

        Built outside any strategy on first use, refreshed on every call.
        """
        if self._sampler is None:
            self._sampler = build_generator(self.model_config, self.num_pitches, name="sampling_generator")
        if self.ema is not None:
            self.ema.copy_to(self._sampler)
        else:
            for src, dst in zip(self.generator.weights, self._sampler.weights):
                dst.assign(src.value)
        return self._sampler

    def current_progress(self) -> float:
        """The progress the last step trained at."""
        return float(self.progress_var.numpy())

    def generate(self, latents, pitches: Sequence[int], progress=None) -> tf.Tensor:
        """Normalised specgrams [B, frames, freq, 2] for latents [B, latent] and MIDI ``pitches``
        (within the data's pitch range), from the smoothed generator."""
        pitches = np.asarray(pitches, np.int64) - self.config.data.min_pitch
        if np.any(pitches < 0) or np.any(pitches >= self.num_pitches):
            raise ValueError(f"pitches must lie in {self.config.data.min_pitch}..{self.config.data.max_pitch}")
        one_hot = tf.one_hot(pitches, self.num_pitches)
        return self.sampling_generator()((tf.convert_to_tensor(latents, tf.float32), one_hot), progress=progress)

    def write_media(self, step: int) -> None:
        """Generate ``num_media_examples`` specgrams (fixed latents, pitches spread over the range)
        with the smoothed generator at the current progress and log each under its pitch
        (``generated/<kind>/pitch_NN``, with a description naming the pitch, note and latent): each
        channel as a greyscale image (``log_magnitude``, ``ifreq``), the rainbowgram
        (:func:`tfmusic.plotting.rainbowgram_rgb`), and, with a specgrams helper and normaliser, the
        decoded audio (peak-limited to 1)."""
        n = self.num_media_examples
        rng = np.random.default_rng(self.model_config.seed + 1)
        latents = rng.normal(size=(n, self.model_config.latent_size)).astype(np.float32)
        lo, hi = self.config.data.min_pitch, self.config.data.max_pitch
        pitches = np.linspace(lo, hi, n).round().astype(np.int64)
        progress = float(self.current_progress())
        specs = self.generate(latents, pitches, progress=progress).numpy()

        def label(i: int, kind: str) -> Tuple[str, str]:
            pitch = int(pitches[i])
            return (
                f"generated/{kind}/pitch_{pitch:02d}",
                f"MIDI pitch {pitch} ({note_name(pitch)}), media latent {i}, smoothed generator at "
                f"progress {progress:.2f}",
            )

        # Channels as greyscale images [freq, frames, 1], low frequencies at the bottom.
        for c, name in enumerate(("log_magnitude", "ifreq")):
            img = (np.transpose(specs[..., c], (0, 2, 1))[:, ::-1, :, None] + 1.0) / 2.0
            for i in range(n):
                tag, text = label(i, name)
                training.log_image(tag, img[i], step, description=text)
        raw = specs if self.normalizer is None else self.normalizer.denormalize(tf.constant(specs)).numpy()
        try:
            from tfmusic import plotting
        except ImportError:  # plotting needs matplotlib; the greyscale images above remain
            plotting = None
        if plotting is not None:
            for i, r in enumerate(raw):
                tag, text = label(i, "rainbowgram")
                training.log_image(tag, plotting.rainbowgram_rgb(r[..., 0], r[..., 1])[::-1], step, description=text)
        if self.specgrams_helper is not None and self.normalizer is not None:
            waves = self.specgrams_helper.decode(tf.constant(raw)).numpy()[..., 0]
            waves = waves / np.maximum(np.abs(waves).max(axis=1, keepdims=True), 1.0)
            for i in range(n):
                tag, text = label(i, "audio")
                training.log_audio(
                    tag, waves[i], self.specgrams_helper.config.sample_rate, step, max_outputs=1, description=text
                )


_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch (60 -> ``C4``, 69 -> ``A4``)."""
    return f"{_NOTE_NAMES[int(pitch) % 12]}{int(pitch) // 12 - 1}"
