# Reference values for shouwang/reports/rt.py, computed by the R package EpiEstim itself.
#
#     cd shouwang/reports/tests/reference && Rscript epiestim_flu2009.R
#
# Needs R and EpiEstim (Debian 12: apt-get install r-base-core r-cran-epiestim, EpiEstim 2.2-4).
# Reads the input CSVs next to this script (copies of ../shared/data/epiestim/, see README.md) and
# writes, next to this script, every number with 15 significant digits ("NA" where EpiEstim gives NA):
#
#   flu2009_parametric.csv      Flu2009, method "parametric_si", mean_si 2.6, std_si 1.5, default
#                               weekly windows (t_start 2..26, t_end 8..32)
#   flu2009_non_parametric.csv  Flu2009, method "non_parametric_si", si_distr = Flu2009_si_distr.csv,
#                               default weekly windows
#   mers_parametric.csv         MERS 2014-15 (local and imported columns), "parametric_si",
#                               mean_si 6.8, std_si 4.1 (mers_2014_15_si.csv), default weekly windows
#   edge_daily.csv              a small synthetic series (written below) with daily windows
#                               t_start = t_end = 2..T, mean_si 6.8, std_si 4.1: the windows with
#                               t_end <= the SI's mean are NA, and some windows have no infectivity
#                               (Lambda = 0) while cases occur
#   discr_si.csv                discr_si(k, mu, sigma) for (2.6, 1.5), k = 0..31 (what estimate_R uses for
#                               Flu2009, T = 32) and (6.8, 4.1), k = 0..60
#   warnings.txt                the warnings estimate_R gave for each run

suppressPackageStartupMessages(library(EpiEstim))

fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.15g", x))

write_r <- function(res, path) {
  r <- res$R
  out <- data.frame(lapply(r, fmt), check.names = FALSE)
  write.table(out, path, sep = ",", row.names = FALSE, quote = FALSE)
}

warnings_seen <- character()
run <- function(name, expr) {
  withCallingHandlers(
    expr,
    warning = function(w) {
      warnings_seen <<- c(warnings_seen, paste0(name, ": ", gsub("\\s+", " ", conditionMessage(w))))
      invokeRestart("muffleWarning")
    },
    message = function(m) invokeRestart("muffleMessage")
  )
}

flu <- read.csv("Flu2009_incidence.csv")
flu <- data.frame(dates = as.Date(flu$dates), I = flu$I)
si_distr <- read.csv("Flu2009_si_distr.csv")$prob

res <- run("flu2009_parametric", estimate_R(
  flu, method = "parametric_si", config = make_config(list(mean_si = 2.6, std_si = 1.5))))
write_r(res, "flu2009_parametric.csv")

res <- run("flu2009_non_parametric", estimate_R(
  flu, method = "non_parametric_si", config = make_config(list(si_distr = si_distr))))
write_r(res, "flu2009_non_parametric.csv")

mers <- read.csv("mers_2014_15_incidence.csv")
mers <- data.frame(dates = as.Date(mers$dates), local = mers$local, imported = mers$imported)
res <- run("mers_parametric", estimate_R(
  mers, method = "parametric_si", config = make_config(list(mean_si = 6.8, std_si = 4.1))))
write_r(res, "mers_parametric.csv")

# Synthetic: nothing on days 1-9 (so no infectivity), cases from day 10, a quiet stretch, a second wave.
edge <- c(rep(0, 9), 3, 1, 0, 2, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
          4, 7, 0, 12)
T <- length(edge)
res <- run("edge_daily", estimate_R(
  edge, method = "parametric_si",
  config = make_config(list(mean_si = 6.8, std_si = 4.1, t_start = 2:T, t_end = 2:T))))
write_r(res, "edge_daily.csv")
writeLines(paste(edge, collapse = ","), "edge_incidence.txt")

d <- rbind(
  data.frame(mean_si = 2.6, std_si = 1.5, k = 0:31, w = discr_si(0:31, 2.6, 1.5)),
  data.frame(mean_si = 6.8, std_si = 4.1, k = 0:60, w = discr_si(0:60, 6.8, 4.1))
)
d <- data.frame(lapply(d, fmt), check.names = FALSE)
write.table(d, "discr_si.csv", sep = ",", row.names = FALSE, quote = FALSE)

writeLines(c(paste0("EpiEstim ", as.character(packageVersion("EpiEstim")), ", ", R.version.string),
             warnings_seen), "warnings.txt")
