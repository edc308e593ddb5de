//! The command line's flags and subcommands (clap derive); `main.rs` runs them.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use stzlab::inversion::energy::ArrheniusLaw;
use stzlab::inversion::{Baseline, Bootstrap, InvertOptions, Kernel, Regularizer, Rule};
use stzlab::pipeline::invert::energy::EnergyOptions;

#[derive(Parser)]
#[command(
    name = "stzlab",
    version,
    about = "Relaxation-time spectra of glasses: simulate, invert, and measure how far to trust the inversion"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Simulate the data of a scenario (one noise realization with the scenario seed) and its truth.
    Simulate {
        /// Scenario file (TOML).
        scenario: PathBuf,
        #[command(flatten)]
        out: Out,
    },
    /// Invert data (CSV: x, y[, sigma], or temperature_k, x, y[, sigma] with a header) to a spectrum.
    Invert(Box<InvertArgs>),
    /// Run a scenario's sweep: many noisy inversions scored against the known truth.
    Run(RunArgs),
    /// Join the folders of a sharded run into what the unsharded run writes.
    Merge {
        /// Shard folders (each written by `stzlab run --shard k/N`).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        #[command(flatten)]
        out: Out,
        /// Write no SVG figures and no index.html.
        #[arg(long)]
        no_figures: bool,
    },
    /// Draw the figures and index.html of an output folder of invert, run or merge (again).
    Report {
        /// The output folder.
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
pub(crate) struct Out {
    /// Output folder.
    #[arg(short, long)]
    pub(crate) output: PathBuf,
    /// Overwrite files in a non-empty output folder.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// Scenario file (TOML) with optional [inversion] and [sweep] sections.
    pub(crate) scenario: PathBuf,
    /// Output folder (default: results/<scenario name>, or results/<name>/shard-k-of-N with --shard).
    #[arg(short, long)]
    pub(crate) output: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
    /// Run only shard k of N (1-based): the runs whose index modulo N is k - 1.
    #[arg(long)]
    pub(crate) shard: Option<String>,
    /// Continue an interrupted run in the output folder.
    #[arg(long, conflicts_with = "force")]
    pub(crate) resume: bool,
    /// Overwrite files in a non-empty output folder.
    #[arg(long)]
    pub(crate) force: bool,
    /// No progress bar and no summary table on stdout.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Override a scenario value, e.g. --set noise.sigma=1e-3 --set sweep.repeats=200 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub(crate) sets: Vec<String>,
    /// Write no SVG figures and no index.html (large sweeps; `stzlab report DIR` draws them later).
    #[arg(long)]
    pub(crate) no_figures: bool,
}

/// Kernels by their command-line names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum KindArg {
    /// Recovery, x = t in s.
    Decay,
    /// Creep, x = t in s.
    Creep,
    /// Loss modulus, x = omega in rad/s.
    Loss,
    /// Creep through a temperature history (--temperature-history), inverted in dF.
    CreepStepping,
    /// Loss modulus at every temperature at once (--material), inverted for STZ volumes.
    LossGlobal,
}

impl KindArg {
    /// The kernel.
    pub(crate) fn kernel(self) -> Kernel {
        match self {
            KindArg::Decay => Kernel::Decay,
            KindArg::Creep | KindArg::CreepStepping => Kernel::Creep,
            KindArg::Loss | KindArg::LossGlobal => Kernel::Loss,
        }
    }
}

/// `KIND=FILE` of `--joint`.
fn parse_joint(text: &str) -> Result<(KindArg, PathBuf), String> {
    let (kind, file) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected KIND=FILE, e.g. creep=cantilever.csv"))?;
    let kind = KindArg::from_str(kind, false)?;
    if file.is_empty() {
        return Err(format!("{text:?}: no file after '='"));
    }
    Ok((kind, PathBuf::from(file)))
}

/// Regularizer families by their command-line names.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RegularizerArg {
    Tikhonov,
    LogSmooth,
    Maxent,
    TotalVariation,
    Lorentzian,
}

/// Baselines by their command-line names.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum BaselineArg {
    None,
    Constant,
    #[value(name = "constant+linear")]
    ConstantLinear,
}

#[derive(clap::Args)]
pub(crate) struct InvertArgs {
    /// Data file (CSV).
    #[arg(required_unless_present = "joint", conflicts_with = "joint")]
    pub(crate) data: Option<PathBuf>,
    /// Kernel: decay (recovery, x = t in s), creep (x = t in s), loss (x = omega in rad/s), or
    /// creep-stepping (creep through --temperature-history, x = t in s after loading, inverted for
    /// the spectrum of activation energies dF), or loss-global (loss data with a temperature_k
    /// column, every temperature at once, inverted for the spectrum of STZ volumes; needs
    /// --material).
    #[arg(
        long,
        value_enum,
        required_unless_present = "joint",
        conflicts_with = "joint"
    )]
    pub(crate) kind: Option<KindArg>,
    /// A data set of a joint inversion, KIND=FILE (repeatable): every set shares one spectrum on one
    /// grid over all their windows, each with its own baseline and weights; sets are named by their
    /// file's stem. E.g. --joint creep=cantilever.csv --joint decay=mandrel.csv.
    #[arg(long, value_name = "KIND=FILE", value_parser = parse_joint)]
    pub(crate) joint: Vec<(KindArg, PathBuf)>,
    #[command(flatten)]
    pub(crate) out: Out,
    /// Rule for lambda, with optional parameters as NAME:key=value[,key=value]: consensus[:rss=R,white=Z]
    /// (the median lambda of lcurve, quasi-optimality and evidence; the first two see only fits
    /// with ||W r||^2 at most R times the best and, for white noise of the stated sigma, a residual
    /// still white: its lag-one autocorrelation at most Z/sqrt(M) above the best fit's; the
    /// default), discrepancy[:factor=F],
    /// gcv, rgcv[:gamma=G], lcurve, ftest[:level=P], r2-onset[:threshold=T], quasi-optimality,
    /// evidence[:sigma=free], kfold[:folds=K], fixed=LAMBDA, or iterative[:threshold=T] (the paper's practice: no
    /// penalty, an iterative fit stopped at a scanned tolerance). With --regularizer log-smooth or
    /// maxent: consensus, discrepancy, gcv, lcurve, ftest (the maxent default), r2-onset,
    /// quasi-optimality or evidence (the log-smooth default); with maxent also classic
    /// (-2 alpha S = N_good); with total-variation or lorentzian the same as log-smooth and rgcv.
    #[arg(long)]
    pub(crate) rule: Option<String>,
    /// What the penalty smooths: the spectrum (tikhonov, the default), its logarithm
    /// (log-smooth: f = exp(s), positivity built in, narrow peaks cost little), or its entropy
    /// relative to a flat default model (maxent), or its rounded total variation (total-variation:
    /// a jump costs its height, not its steepness; for spectra with edges, not peaks), or the
    /// Lorentzian of its differences (lorentzian: a jump costs the logarithm of its height, so the
    /// top before a jump is not lowered).
    #[arg(long, value_enum, default_value = "tikhonov")]
    pub(crate) regularizer: RegularizerArg,
    /// With --regularizer maxent: the flat default model as a multiple of its default, the strongest
    /// Tikhonov solution's total amplitude spread evenly over the grid (default 1).
    #[arg(long)]
    pub(crate) maxent_model: Option<f64>,
    /// With --regularizer total-variation or lorentzian: the rounding scale as a fraction of the
    /// largest difference of the Tikhonov solution at each lambda (default 0.1; differences above
    /// it are edges; smaller gives sharper tops and staircases).
    #[arg(long)]
    pub(crate) edge_scale: Option<f64>,
    /// Leave out of the reading every peak whose area is below this many of its linearized
    /// standard errors (tikhonov, log-smooth and maxent; default 0: every peak is kept); the
    /// peaks left out are named in a warning.
    #[arg(long)]
    pub(crate) min_significance: Option<f64>,
    /// Number of tau grid points (default: 5 per decade).
    #[arg(long)]
    pub(crate) points: Option<usize>,
    /// Grid density instead of --points: tau grid points per decade over the grid's range
    /// (default 5; 20 for --kind loss-global).
    #[arg(long)]
    pub(crate) per_decade: Option<f64>,
    /// Grid start, s (default: one decade below the data window).
    #[arg(long)]
    pub(crate) tau_min: Option<f64>,
    /// Grid end, s (default: one decade above the data window).
    #[arg(long)]
    pub(crate) tau_max: Option<f64>,
    /// Baseline (default: constant for decay, constant+linear for creep, none for loss).
    #[arg(long, value_enum)]
    pub(crate) baseline: Option<BaselineArg>,
    /// Constrain the baseline coefficients to be >= 0.
    #[arg(long)]
    pub(crate) baseline_nonnegative: bool,
    /// Order of the difference penalty, 0 to 3 (order r leaves polynomials of degree < r unpenalized;
    /// 3 with log-smooth leaves every log-normal peak free). Default: 2, or 3 with --regularizer
    /// log-smooth, 1 with total-variation or lorentzian.
    #[arg(long)]
    pub(crate) order: Option<u8>,
    /// Take the spectrum as zero beyond the grid ends (CONTIN).
    #[arg(long)]
    pub(crate) zero_boundary: bool,
    /// Number of lambda values on the path.
    #[arg(long, default_value_t = 60)]
    pub(crate) lambda_points: u32,
    /// Scenario-style file whose [material] gives the STZ back-analysis (stz.csv).
    #[arg(long)]
    pub(crate) material: Option<PathBuf>,
    /// Measurement temperature for the back-analysis, K (DMA data carry their own).
    #[arg(long)]
    pub(crate) temperature_k: Option<f64>,
    /// Bootstrap uncertainty: re-analyse B resampled data sets (20 to 100000) and add 5-50-95 %
    /// bands and intervals to spectrum.csv, peaks.csv, stz.csv and summary.json (parametric from the
    /// fit and sigma when the data give sigma, else from the fit's residuals).
    #[arg(long, value_name = "B")]
    pub(crate) uncertainty: Option<usize>,
    /// Seed of the bootstrap resamples (the same seed gives the same bands on any machine).
    #[arg(long, default_value_t = 1, requires = "uncertainty")]
    pub(crate) seed: u64,
    /// Write no SVG figures and no index.html.
    #[arg(long)]
    pub(crate) no_figures: bool,
    /// --kind creep-stepping: the temperature history, CSV `t_start_s,t_end_s,temperature_k`, one
    /// contiguous hold per line from 0 s.
    #[arg(long, value_name = "FILE")]
    pub(crate) temperature_history: Option<PathBuf>,
    /// --kind creep-stepping: attempt frequency nu in tau = exp(dF / kT) / nu, Hz (default 1e13;
    /// with --material, tau is paper Eq. 9 and the spectrum is over STZ volumes instead).
    #[arg(long)]
    pub(crate) attempt_hz: Option<f64>,
    /// --kind creep-stepping: lowest dF of the grid, eV (default: one decade of tau below the
    /// range the record resolves). --points sets the grid points (default 200).
    #[arg(long)]
    pub(crate) df_min_ev: Option<f64>,
    /// --kind creep-stepping: highest dF of the grid, eV (default: one decade above).
    #[arg(long)]
    pub(crate) df_max_ev: Option<f64>,
}

/// The attempt frequency of `--kind creep-stepping` without a material, Hz.
const DEFAULT_ATTEMPT_HZ: f64 = 1e13;

impl InvertArgs {
    /// The history file and dF grid of `--kind creep-stepping`; `None` for the other kinds.
    pub(crate) fn energy(&self) -> Result<Option<(PathBuf, EnergyOptions)>, String> {
        if self.kind == Some(KindArg::LossGlobal) {
            let refused = [
                (
                    self.tau_min.is_some(),
                    "--tau-min (the grid follows the data's volumes)",
                ),
                (
                    self.tau_max.is_some(),
                    "--tau-max (the grid follows the data's volumes)",
                ),
                (
                    self.temperature_k.is_some(),
                    "--temperature-k (the data carry them)",
                ),
            ];
            if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
                return Err(format!("--kind loss-global does not take {flag}"));
            }
        }
        let stepping = self.kind == Some(KindArg::CreepStepping);
        let Some(history) = self.temperature_history.clone().filter(|_| stepping) else {
            return match (stepping, &self.temperature_history) {
                (true, _) => Err("--kind creep-stepping needs --temperature-history FILE".into()),
                (false, Some(_)) => {
                    Err("--temperature-history applies to --kind creep-stepping only".into())
                }
                (false, None)
                    if self.df_min_ev.is_some()
                        || self.df_max_ev.is_some()
                        || self.attempt_hz.is_some() =>
                {
                    Err(
                        "--df-min-ev, --df-max-ev and --attempt-hz apply to --kind creep-stepping \
                         only"
                            .into(),
                    )
                }
                (false, None) => Ok(None),
            };
        };
        let refused = [
            (
                self.tau_min.is_some(),
                "--tau-min (the grid is in dF: --df-min-ev)",
            ),
            (
                self.tau_max.is_some(),
                "--tau-max (the grid is in dF: --df-max-ev)",
            ),
            (
                self.per_decade.is_some(),
                "--per-decade (the grid is in dF: --points)",
            ),
            (
                self.material.is_some() && self.attempt_hz.is_some(),
                "--attempt-hz with --material (paper Eq. 9 gives tau from the material's nu_G)",
            ),
            (
                self.material.is_some() && (self.df_min_ev.is_some() || self.df_max_ev.is_some()),
                "--df-min-ev or --df-max-ev with --material (the grid is over STZ volumes)",
            ),
            (
                self.temperature_k.is_some(),
                "--temperature-k (the history gives them)",
            ),
        ];
        if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
            return Err(format!("--kind creep-stepping does not take {flag}"));
        }
        let mut energy = EnergyOptions::new(ArrheniusLaw {
            attempt_hz: self.attempt_hz.unwrap_or(DEFAULT_ATTEMPT_HZ),
        });
        energy.df_min_ev = self.df_min_ev;
        energy.df_max_ev = self.df_max_ev;
        Ok(Some((history, energy)))
    }

    /// The `--joint` sets as (kernel, file).
    pub(crate) fn joint_sets(&self) -> Vec<(Kernel, PathBuf)> {
        self.joint
            .iter()
            .map(|(k, f)| (k.kernel(), f.clone()))
            .collect()
    }

    /// The inversion options these flags give.
    pub(crate) fn options(&self) -> Result<InvertOptions, String> {
        let kind = self.kind.or(self.joint.first().map(|j| j.0));
        let mut options = InvertOptions::new(kind.map_or(Kernel::Decay, KindArg::kernel));
        options.regularizer = match self.regularizer {
            RegularizerArg::Tikhonov => Regularizer::Tikhonov,
            RegularizerArg::LogSmooth => Regularizer::LogSmooth,
            RegularizerArg::Maxent => Regularizer::MaxEnt,
            RegularizerArg::TotalVariation => Regularizer::TotalVariation,
            RegularizerArg::Lorentzian => Regularizer::Lorentzian,
        };
        options.rule = match (&self.rule, options.regularizer) {
            (Some(r), _) => Rule::parse(r)?,
            (None, family) => family.default_rule(),
        };
        if let Some(factor) = self.maxent_model {
            if options.regularizer != Regularizer::MaxEnt {
                return Err("--maxent-model applies to --regularizer maxent only".into());
            }
            options.maxent_model = factor;
        }
        if let Some(scale) = self.edge_scale {
            if !options.regularizer.is_edge() {
                return Err(
                    "--edge-scale applies to --regularizer total-variation or lorentzian only"
                        .into(),
                );
            }
            options.edge_scale = scale;
        }
        if let Some(z) = self.min_significance {
            if options.regularizer.is_edge() {
                return Err(
                    "--min-significance applies to --regularizer tikhonov, log-smooth or maxent \
                     only"
                        .into(),
                );
            }
            if matches!(
                self.kind,
                Some(KindArg::LossGlobal | KindArg::CreepStepping)
            ) {
                return Err(
                    "--min-significance applies to the decay, creep and loss analyses only".into(),
                );
            }
            options.peaks.min_significance = z;
        }
        if !options.regularizer.applies(options.rule) {
            return Err(format!(
                "--rule {}: does not apply to the {} regularizer; use {}",
                options.rule.name(),
                options.regularizer.name(),
                applicable_rules(options.regularizer)
            ));
        }
        options.points = self.points;
        if self.kind == Some(KindArg::LossGlobal) {
            // Sizes lie about half a decade of tau apart: the grouping study's grid (README).
            options.per_decade = stzlab::scenario::DEFAULT_GLOBAL_PER_DECADE;
        }
        if let Some(d) = self.per_decade {
            if self.points.is_some() {
                return Err("--per-decade and --points both set the tau grid: give one".into());
            }
            options.per_decade = d;
        }
        options.tau_min_s = self.tau_min;
        options.tau_max_s = self.tau_max;
        options.baseline = self.baseline.map(|b| match b {
            BaselineArg::None => Baseline::None,
            BaselineArg::Constant => Baseline::Constant,
            BaselineArg::ConstantLinear => Baseline::ConstantLinear,
        });
        options.baseline_nonnegative = self.baseline_nonnegative;
        options.order = self
            .order
            .map_or(options.regularizer.default_order(), usize::from);
        options.zero_boundary = self.zero_boundary;
        options.lambda_points = self.lambda_points as usize;
        options.uncertainty = self
            .uncertainty
            .map(|b| Bootstrap::new(b, self.seed))
            .transpose()
            .map_err(|e| format!("--uncertainty {e}"))?;
        // The settings' one check (the scenario loader's too), its fields named by their flags.
        options.check().map_err(|e| {
            let flag = match e.field {
                "tau_min_s" => "tau-min",
                "tau_max_s" => "tau-max",
                field => &field.replace('_', "-"),
            };
            format!("--{flag} {}", e.message)
        })?;
        Ok(options)
    }
}

/// The rules that apply to a family, for messages.
fn applicable_rules(regularizer: Regularizer) -> String {
    let names: Vec<String> = Rule::all_on_path()
        .into_iter()
        .filter(|r| regularizer.applies(*r))
        .map(|r| r.name())
        .collect();
    names.join(", ")
}
