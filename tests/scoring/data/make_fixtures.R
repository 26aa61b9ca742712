# Fixtures for tests/scoring: run with `Rscript make_fixtures.R` in this folder (psych 2.2.9,
# psychTools for bfi). The CSV files are committed; the tests hard-code psych's numbers on them.
library(psych)
set.seed(20240901)
# phq_like.csv: 400 rows, 9 items 0..3 from one factor, 6% missing at random, groups
n <- 400
f <- rnorm(n)
x <- sapply(1:9, function(j) {
  z <- 0.45 * f + rnorm(n, sd = 0.8) + c(0.2, 0.1, 0.4, 0.5, 0, -0.2, -0.1, -0.4, -0.9)[j]
  as.integer(cut(z, c(-Inf, 0.3, 0.9, 1.5, Inf))) - 1L
})
colnames(x) <- paste0("phq9_", 1:9)
x[matrix(runif(n * 9) < 0.06, n, 9)] <- NA
school <- sample(c("A", "B", "C"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2))
sex <- sample(c("F", "M"), n, replace = TRUE)
write.csv(data.frame(school_id = school, sex = sex, x), "phq_like.csv", row.names = FALSE, na = "")
# reverse.csv: 250 rows, 6 items 1..5, items 2 and 5 reverse keyed, no missing
n <- 250
f <- rnorm(n)
load <- c(0.7, -0.6, 0.5, 0.65, -0.55, 0.4)
y <- sapply(1:6, function(j) {
  z <- load[j] * f + rnorm(n, sd = 0.7)
  as.integer(cut(z, c(-Inf, -1, -0.35, 0.35, 1, Inf)))
})
colnames(y) <- paste0("r", 1:6)
write.csv(y, "reverse.csv", row.names = FALSE)
# bfi.csv: psych's bfi (psychTools), the 25 personality items, gender and education
library(psychTools)
write.csv(bfi[, c(1:25, 26, 27)], "bfi.csv", row.names = FALSE, na = "")
# spi18_cor.csv (test_r_reference_qa.py): the pairwise correlations of 18 SPI items, rounded
# (psych 2.2.9, psychTools 2.2.9 from Debian's r-cran-psychtools)
r <- round(cor(psychTools::spi[1:2000, 11:28], use = "pairwise"), 6)
write.csv(r, "spi18_cor.csv", row.names = FALSE)
