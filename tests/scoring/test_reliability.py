"""cronbach_alpha, item_statistics and reliability_by against R psych and pingouin.

Reference values were produced by psych 2.2.9 (R) and pingouin 0.7.0 on the CSV fixtures in
tests/scoring/data/ (made by make_fixtures.R there); each block names the call. In R the
fixtures were read with ``x <- read.csv("phq_like.csv"); items <- x[, 3:11]``,
``y <- read.csv("reverse.csv")`` and ``b <- read.csv("bfi.csv")``.
``total`` lists psych's raw_alpha, std.alpha, G6(smc), average_r, S/N, ase, mean, sd,
median_r; ``feldt`` is ``$feldt$lower.ci, $feldt$upper.ci``; the item columns are
``$item.stats`` and ``$alpha.drop``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from screening.scoring._frames import PsychometricInputError
from screening.scoring.reliability import (
    ItemsLeftOutWarning,
    cronbach_alpha,
    item_statistics,
)

DATA = Path(__file__).parent / "data"
PHQ = pl.read_csv(DATA / "phq_like.csv")
ITEMS = [f"phq9_{i}" for i in range(1, 10)]
REV = pl.read_csv(DATA / "reverse.csv")
BFI = pl.read_csv(DATA / "bfi.csv")
TOTAL = ["alpha", "std_alpha", "g6", "average_r", "signal_noise", "ase", "mean", "sd", "median_r"]
ITEM_REF = [
    "n",
    "raw_r",
    "std_r",
    "r_cor",
    "r_drop",
    "mean",
    "sd",
    "alpha_drop",
    "std_alpha_drop",
    "g6_drop",
    "average_r_drop",
]
TOL = 1e-9

# psych 2.2.9: alpha(items)   (phq pairwise)
PHQ_PAIRWISE = {
    "total": [
        0.6334166117823017,
        0.6351070127895003,
        0.6227270290414118,
        0.1620524863005960,
        1.7405295115280459,
        0.0268372147028245,
        0.6285248015873016,
        0.4499654373971896,
        0.1664248701494750,
    ],
    "feldt": [0.577029790578863, 0.684991826685299],
    "n": [381, 378, 378, 377, 374, 380, 372, 373, 371],
    "raw_r": [
        0.510862376895997,
        0.555982930270229,
        0.506667110565163,
        0.587957181163864,
        0.576103307201971,
        0.593877103320947,
        0.507225206934039,
        0.386625133015044,
        0.306436019324012,
    ],
    "std_r": [
        0.479198659287204,
        0.541155799124852,
        0.458238776804289,
        0.520522537801004,
        0.585475123533805,
        0.607168268680674,
        0.518808696287481,
        0.423055470549848,
        0.412559573802858,
    ],
    "r_cor": [
        0.359639881918797,
        0.457223896096215,
        0.325572566799642,
        0.420794181625735,
        0.514530238315255,
        0.552931010785292,
        0.411383072244544,
        0.277262378129365,
        0.268194602801145,
    ],
    "r_drop": [
        0.291598656221892,
        0.364236054672836,
        0.265362697645088,
        0.346929663333567,
        0.395971541788664,
        0.432134746083729,
        0.319796794807826,
        0.224432205672924,
        0.197384894315404,
    ],
    "mean": [
        0.769028871391076,
        0.716931216931217,
        0.941798941798942,
        1.129973474801061,
        0.558823529411765,
        0.507894736842105,
        0.532258064516129,
        0.356568364611260,
        0.123989218328841,
    ],
    "sd": [
        0.988984780738647,
        0.936599810380833,
        1.036111349565838,
        1.099602563277698,
        0.851124287765919,
        0.842436965986702,
        0.838129259479208,
        0.698647709743505,
        0.448108625696920,
    ],
    "alpha_drop": [
        0.612073054438027,
        0.592289944705160,
        0.620576633083333,
        0.598256236323910,
        0.585803344482505,
        0.577327126572898,
        0.604047672968340,
        0.624024476855749,
        0.629284312401382,
    ],
    "std_alpha_drop": [
        0.614695857729935,
        0.596929940864516,
        0.620447102987624,
        0.602977698407134,
        0.583470248949231,
        0.576637193548680,
        0.603474016118464,
        0.629824623529600,
        0.632557278893707,
    ],
    "g6_drop": [
        0.597592606610155,
        0.577211935571976,
        0.604336812144886,
        0.585361298078743,
        0.567188341864792,
        0.557879934153565,
        0.589046839347970,
        0.612302204200039,
        0.612767998846720,
    ],
    "average_r_drop": [
        0.166263026909042,
        0.156203437979519,
        0.169666150460932,
        0.159553530119622,
        0.149007589585670,
        0.145485410812767,
        0.159831795726485,
        0.175378641370432,
        0.177082793740895,
    ],
}
# psych 2.2.9: alpha(na.omit(items))   (phq listwise)
PHQ_LISTWISE = {
    "total": [
        0.6513787919531544,
        0.6584573380617540,
        0.6501353928901155,
        0.1764193802036776,
        1.9278919193433262,
        0.0339354904383476,
        0.6306042884990253,
        0.4536481238013019,
        0.1789213374952054,
    ],
    "feldt": [0.57927033838833, 0.715442703731597],
    "n": [228, 228, 228, 228, 228, 228, 228, 228, 228],
    "raw_r": [
        0.541467355997361,
        0.581929758633590,
        0.478381957181384,
        0.577076824041456,
        0.599886717635679,
        0.569388647745773,
        0.488990516876785,
        0.407834758157740,
        0.371646935276743,
    ],
    "std_r": [
        0.513729799899833,
        0.552021856905880,
        0.431036854131613,
        0.531299821319899,
        0.618743792426896,
        0.580346794236303,
        0.515975921194208,
        0.439566961080252,
        0.475839712262332,
    ],
    "r_cor": [
        0.406475932361598,
        0.467123433657359,
        0.296270438124894,
        0.435464537022478,
        0.565249710437178,
        0.510445831775252,
        0.410172381059769,
        0.301051942607179,
        0.363989304294543,
    ],
    "r_drop": [
        0.336053567418075,
        0.386432631533790,
        0.247782359855587,
        0.364922065779541,
        0.438240238116891,
        0.399323119442903,
        0.308333079936940,
        0.245486732389821,
        0.273283593267923,
    ],
    "mean": [
        0.767543859649123,
        0.771929824561403,
        0.964912280701754,
        1.096491228070176,
        0.543859649122807,
        0.504385964912281,
        0.508771929824561,
        0.385964912280702,
        0.131578947368421,
    ],
    "sd": [
        0.985980637462581,
        0.984774736372398,
        1.036172425919637,
        1.049180911866870,
        0.856592479683365,
        0.862829108595180,
        0.842124584367574,
        0.721095250294237,
        0.440527475073828,
    ],
    "alpha_drop": [
        0.622664168768164,
        0.609513132034258,
        0.646833525602423,
        0.615635437110491,
        0.599082278137103,
        0.607910482772625,
        0.628459572188722,
        0.640689382791263,
        0.640588779065633,
    ],
    "std_alpha_drop": [
        0.632530936814536,
        0.622161859633209,
        0.653572491361783,
        0.627824909233048,
        0.603050554035231,
        0.614216509524200,
        0.631934126336165,
        0.651482576286697,
        0.642392522611580,
    ],
    "g6_drop": [
        0.621037370837388,
        0.608933872644534,
        0.637942737581253,
        0.614301737224796,
        0.589186625691212,
        0.600442374352966,
        0.620001391063457,
        0.638760063348414,
        0.625969383218254,
    ],
    "average_r_drop": [
        0.177066279042963,
        0.170695353934410,
        0.190824499564042,
        0.174143028129458,
        0.159594345330068,
        0.165982730258746,
        0.176692575678087,
        0.189405284280592,
        0.183370325614733,
    ],
}
# psych 2.2.9: alpha(items[x$school_id=='B',])   (phq school B)
PHQ_SCHOOL_B = {
    "total": [
        0.634492986558962,
        0.632630961984246,
        0.633104469399864,
        0.160608941956867,
        1.722058465790239,
        0.046945059753006,
        0.635582010582011,
        0.455898601435077,
        0.162615907058572,
    ],
    "feldt": [0.531884994256284, 0.722138353466123],
    "n": [125, 125, 121, 121, 121, 119, 123, 113, 119],
    "raw_r": [
        0.515127779296948,
        0.528411489813517,
        0.512919478439061,
        0.637153451414093,
        0.485030069651116,
        0.578351512465297,
        0.597873810188955,
        0.396545518337461,
        0.308783175268492,
    ],
    "std_r": [
        0.502565106543975,
        0.530377365315409,
        0.458503079312138,
        0.565031466266610,
        0.476158304002963,
        0.584306380105951,
        0.609606273785861,
        0.436202507895905,
        0.371986975642916,
    ],
    "r_cor": [
        0.397453291432310,
        0.448015966782073,
        0.336381005568762,
        0.491348395283584,
        0.356379506209753,
        0.515449359935661,
        0.551701337986293,
        0.300122827667954,
        0.211341961232820,
    ],
    "r_drop": [
        0.313231514156212,
        0.328682160238583,
        0.263335784058246,
        0.403997803421948,
        0.268030032197803,
        0.411875286620549,
        0.447905214782521,
        0.241302930130435,
        0.160661062016729,
    ],
    "mean": [
        0.824000000000000,
        0.744000000000000,
        0.917355371900826,
        1.157024793388430,
        0.578512396694215,
        0.521008403361345,
        0.487804878048780,
        0.300884955752212,
        0.117647058823529,
    ],
    "sd": [
        1.000515995906370,
        0.941035805427601,
        1.053460779680510,
        1.095507983105021,
        0.813962182943230,
        0.821828670913570,
        0.793062683923375,
        0.639265143853980,
        0.490182784798143,
    ],
    "alpha_drop": [
        0.607895956123637,
        0.603035011001203,
        0.623522833121671,
        0.581779940243442,
        0.617043880720041,
        0.584030872306083,
        0.576847690000869,
        0.622300430745211,
        0.634628196044127,
    ],
    "std_alpha_drop": [
        0.605226777990139,
        0.597132202777908,
        0.617570463871383,
        0.586698772307953,
        0.612693157138519,
        0.580721093572159,
        0.572677087962889,
        0.623604271992075,
        0.640229424500733,
    ],
    "g6_drop": [
        0.600486135813841,
        0.587708144838993,
        0.611512119402190,
        0.581382538024875,
        0.608377726287209,
        0.577472782490110,
        0.569663668337979,
        0.618827715465325,
        0.633321289064588,
    ],
    "average_r_drop": [
        0.160818610581442,
        0.156314278736205,
        0.167954672202944,
        0.150701876961671,
        0.165095321890434,
        0.147580210040108,
        0.143482768055259,
        0.171566359222781,
        0.181966379920960,
    ],
}
# psych 2.2.9: alpha(y, keys=c('r2','r5'))   (reverse)
REVERSE = {
    "total": [
        0.7743323625257209,
        0.7720890283228351,
        0.7471544547795155,
        0.3608643289966090,
        3.3876781913619194,
        0.0218010792509526,
        3.0313333333333334,
        0.8524686570455127,
        0.3681970077285895,
    ],
    "feldt": [0.728064666250936, 0.815061872294539],
    "n": [250, 250, 250, 250, 250, 250],
    "raw_r": [
        0.765052963579516,
        0.672821394908531,
        0.608432302720784,
        0.771179927974043,
        0.676518767518618,
        0.606992372726661,
    ],
    "std_r": [
        0.755979275290666,
        0.675520355218510,
        0.608531914206056,
        0.764455139936434,
        0.682035166394402,
        0.615420355994186,
    ],
    "r_cor": [
        0.701057733692325,
        0.579519147945248,
        0.475993492582532,
        0.714207012061501,
        0.588099374803247,
        0.486764007253390,
    ],
    "r_drop": [
        0.615901379051260,
        0.509247811825829,
        0.420560140554017,
        0.627794372827532,
        0.516718424477328,
        0.428629491778857,
    ],
    "mean": [3.068, 3.016, 3.012, 2.964, 3.028, 3.100],
    "sd": [
        1.33810991798523,
        1.20230033869149,
        1.23041116972594,
        1.31820128147180,
        1.18695046468776,
        1.17623727901567,
    ],
    "alpha_drop": [
        0.714410440216892,
        0.743418029401671,
        0.765032935707957,
        0.711254456728880,
        0.741679807452901,
        0.762351430458026,
    ],
    "std_alpha_drop": [
        0.712317640583162,
        0.741209689075361,
        0.762997298868830,
        0.709081846524992,
        0.738986314106136,
        0.760843327828607,
    ],
    "g6_drop": [
        0.674074915358498,
        0.705125709842906,
        0.727864376876497,
        0.670146977922189,
        0.703678336591554,
        0.725561021558175,
    ],
    "average_r_drop": [
        0.331198163798665,
        0.364201947816351,
        0.391680219173632,
        0.327721413105501,
        0.361529609923022,
        0.388854620162484,
    ],
}
# psych 2.2.9: alpha(b[1:5], keys='A1')   (bfi A)
BFI_A = {
    "total": [
        0.70301844605730412,
        0.71302857867127178,
        0.68276267203024488,
        0.33196765709937237,
        2.48466755110952642,
        0.00895177442639485,
        4.65209523809523784,
        0.89840187707455144,
        0.33762334075954403,
    ],
    "feldt": [0.685264325886398, 0.720063389899432],
    "n": [2784, 2773, 2774, 2781, 2784],
    "raw_r": [
        0.580690311761351,
        0.727984531370232,
        0.760319004254900,
        0.654186437083929,
        0.686588620769001,
    ],
    "std_r": [
        0.566424814182664,
        0.747991864604953,
        0.767362256497354,
        0.630678842925976,
        0.699191843597754,
    ],
    "r_cor": [
        0.376356840173058,
        0.666547538897032,
        0.709219330711752,
        0.471240098147530,
        0.595663657691878,
    ],
    "r_drop": [
        0.308417739522029,
        0.563615163763579,
        0.587004589505369,
        0.394444086577913,
        0.488565135825834,
    ],
    "mean": [
        4.58656609195402,
        4.80238009376127,
        4.60382119682769,
        4.69974829198130,
        4.56034482758621,
    ],
    "sd": [
        1.40773715052148,
        1.17201992165085,
        1.30183363919143,
        1.47963268626392,
        1.25851209837184,
    ],
    "alpha_drop": [
        0.718517357026915,
        0.617180037046592,
        0.600259578765486,
        0.685805652337960,
        0.642952960071292,
    ],
    "std_alpha_drop": [
        0.725509148595332,
        0.625579881788331,
        0.612944657047564,
        0.693541342767759,
        0.655530188532566,
    ],
    "g6_drop": [
        0.673027842312910,
        0.579458788212045,
        0.557815454370503,
        0.649847407812638,
        0.605062290087347,
    ],
    "average_r_drop": [
        0.397872261317396,
        0.294631734833042,
        0.283617569804043,
        0.361336889173762,
        0.322379830368620,
    ],
}
# psych 2.2.9: alpha(b[6:10], keys=c('C4','C5'))   (bfi C)
BFI_C = {
    "total": [
        0.726734972926683,
        0.730072584382276,
        0.694227611607892,
        0.351045435599352,
        2.704699641981601,
        0.008116697289386,
        4.265732142857143,
        0.951346915688534,
        0.340004337641169,
    ],
    "feldt": [0.710398671682527, 0.742418731660672],
    "n": [2779, 2776, 2780, 2774, 2784],
    "raw_r": [
        0.645747862717503,
        0.696441679070878,
        0.663874926401118,
        0.736534830797262,
        0.719682656630201,
    ],
    "std_r": [
        0.670176839114215,
        0.709704682468922,
        0.674829160501922,
        0.730551800694471,
        0.681855731528576,
    ],
    "r_cor": [
        0.539897879334744,
        0.602726775534256,
        0.538911675524801,
        0.641327489284826,
        0.565950252649195,
    ],
    "r_drop": [
        0.450241690166753,
        0.504564708857478,
        0.464204849967229,
        0.552546650304411,
        0.477469199265224,
    ],
    "mean": [
        4.50233897085282,
        4.36995677233429,
        4.30395683453237,
        4.44664744051911,
        3.70330459770115,
    ],
    "sd": [
        1.24134654770861,
        1.31834654766959,
        1.28855181114166,
        1.37511810740127,
        1.62854186798337,
    ],
    "alpha_drop": [
        0.694000419164347,
        0.673571457357933,
        0.688734101753973,
        0.653825570965204,
        0.689724930759007,
    ],
    "std_alpha_drop": [
        0.696421899840122,
        0.674868557354912,
        0.693958674803162,
        0.662903021965053,
        0.690202044862090,
    ],
    "g6_drop": [
        0.640068901765699,
        0.618927021167439,
        0.644343325101383,
        0.602802060676574,
        0.628336777316994,
    ],
    "average_r_drop": [
        0.364478671715531,
        0.341637387437628,
        0.361790313678509,
        0.329590816885022,
        0.357729988280069,
    ],
}
# psych 2.2.9: alpha(cbind(y[, c(1, 3, 4, 6)], const = 2)) -- psych deletes the constant item
CONSTANT_ITEM = {
    "total": [
        0.6974379518876743,
        0.6947807254050815,
        0.6400168260795535,
        0.3626851918848464,
        2.2763330603127265,
        0.0308662984516925,
        2.8288000000000002,
        0.7341159752111658,
        0.3736540719953959,
    ],
    "feldt": [0.631199485388858, 0.754360950944508],
    "r_drop": [0.541575038797109, 0.409972642029876, 0.563036802190460, 0.416927524690648],
}

# psych 2.2.9, a scale of two items (pairwise, with gaps; and a reverse-keyed item):
#   a <- alpha(items[, 1:2]);  b <- alpha(y[, c("r1", "r2")], keys = "r2")
# unlist(a$total), a$feldt, a$item.stats and a$alpha.drop (raw_alpha, std.alpha, G6(smc),
# average_r: psych's stand-ins c12/c22, r12, smc, r12 where one item has no alpha)
PHQ_TWO_ITEMS = {
    "total": [0.3570038625714653, 0.3574381771217923, 0.2176101819385194,
              0.2176101819385190, 0.5562704854152869, 0.0641997918203826,
              0.7350000000000000, 0.7697442858925037, 0.2176101819385191],
    "feldt": [0.217369055156389, 0.471725421193726],
    "n": [381, 378],
    "raw_r": [0.804944735966561, 0.777402791507695],
    "std_r": [0.780259630487993, 0.780259630487993],
    "r_cor": [0.363981025069876, 0.363981025069875],
    "r_drop": [0.217610181938519, 0.217610181938519],
    "mean": [0.769028871391076, 0.716931216931217],
    "sd": [0.988984780738647, 0.936599810380833],
    "alpha_drop": [0.229781338503000, 0.206083712419045],
    "std_alpha_drop": [0.217610181938519, 0.217610181938519],
    "g6_drop": [0.0473541912833161, 0.0473541912833161],
    "average_r_drop": [0.217610181938519, 0.217610181938519],
}  # fmt: skip
REVERSE_TWO_ITEMS = {
    "total": [0.6287349945032317, 0.6312016197546013, 0.4611355688786242,
              0.4611355688786243, 1.7115086550396439, 0.0466225507338775,
              3.0419999999999998, 1.0862577149521988, 0.4611355688786244],
    "feldt": [0.523769909702347, 0.710564898953856],
    "n": [250, 250],
    "raw_r": [0.871125398043307, 0.837439583581600],
    "std_r": [0.854732580658601, 0.854732580658601],
    "r_cor": [0.580422941381385, 0.580422941381385],
    "r_drop": [0.461135568878624, 0.461135568878624],
    "mean": [3.068, 3.016],
    "sd": [1.33810991798523, 1.20230033869149],
    "alpha_drop": [0.513224573257468, 0.414333264549932],
    "std_alpha_drop": [0.461135568878624, 0.461135568878624],
    "g6_drop": [0.212646012885012, 0.212646012885012],
    "average_r_drop": [0.461135568878624, 0.461135568878624],
}  # fmt: skip

CASES = [
    (PHQ_PAIRWISE, PHQ, {"items": ITEMS}),
    (PHQ_LISTWISE, PHQ.drop_nulls(ITEMS), {"items": ITEMS, "missing": "listwise"}),
    (PHQ_SCHOOL_B, PHQ.filter(pl.col("school_id") == "B"), {"items": ITEMS}),
    (REVERSE, REV, {"reverse": ["r2", "r5"]}),
    (BFI_A, BFI, {"items": ["A1", "A2", "A3", "A4", "A5"], "reverse": ["A1"]}),
    (BFI_C, BFI, {"items": ["C1", "C2", "C3", "C4", "C5"], "reverse": ["C4", "C5"]}),
    (PHQ_TWO_ITEMS, PHQ, {"items": ITEMS[:2]}),
    (REVERSE_TWO_ITEMS, REV, {"items": ["r1", "r2"], "reverse": ["r2"]}),
]
CASE_IDS = ["phq-pairwise", "phq-listwise", "phq-school-B", "reverse", "bfi-A", "bfi-C"]
CASE_IDS += ["phq-two-items", "reverse-two-items"]


@pytest.mark.parametrize(("ref", "data", "kwargs"), CASES, ids=CASE_IDS)
def test_alpha_equals_psych(ref, data, kwargs):
    got = cronbach_alpha(data, **kwargs)
    assert got.height == 1
    np.testing.assert_allclose(got.select(TOTAL).row(0), ref["total"], rtol=0, atol=TOL)
    np.testing.assert_allclose(got.select("ci_low", "ci_high").row(0), ref["feldt"], atol=TOL)


# psych 2.2.9: a <- alpha(items, use = "complete.obs")   (phq, the rows with a gap kept)
# unlist(a$total)[-c(7, 8)] (mean and sd left out) and a$feldt$lower.ci, a$feldt$upper.ci
PHQ_COMPLETE_OBS = [0.651378791953154, 0.658457338061754, 0.650135392890115, 0.176419380203678,
                    1.927891919343326, 0.025620733428924, 0.178921337495205]  # fmt: skip
PHQ_COMPLETE_OBS_FELDT = [0.597754862561704, 0.700426878425858]


def test_listwise_counts_every_row_given_in_the_interval_as_psych_and_pingouin():
    """psych's n.obs (and pingouin's n) count the rows left out for a gap too: ase and the
    Feldt interval use them; ``n`` says how many rows the statistics used."""
    got = cronbach_alpha(PHQ, items=ITEMS, missing="listwise")
    columns = [c for c in TOTAL if c not in ("mean", "sd")]
    np.testing.assert_allclose(got.select(columns).row(0), PHQ_COMPLETE_OBS, rtol=0, atol=TOL)
    np.testing.assert_allclose(
        got.select("ci_low", "ci_high").row(0), PHQ_COMPLETE_OBS_FELDT, rtol=0, atol=TOL
    )
    assert got["n"][0] == PHQ.drop_nulls(ITEMS).height


@pytest.mark.parametrize(("ref", "data", "kwargs"), CASES, ids=CASE_IDS)
def test_item_statistics_equal_psych(ref, data, kwargs):
    got = item_statistics(data, **kwargs)
    for column in ITEM_REF:
        np.testing.assert_allclose(got[column].to_numpy(), ref[column], atol=TOL, err_msg=column)


def test_constant_item_is_left_out_as_psych_does():
    data = REV.select("r1", "r3", "r4", "r6").with_columns(const=pl.lit(2, dtype=pl.Int64))
    # psych: "Item = const had no variance and was deleted"
    with pytest.warns(ItemsLeftOutWarning, match=r"^alpha: left out 'const' \(no variance\);"):
        got = cronbach_alpha(data)
    assert got["n_items"][0] == 4
    np.testing.assert_allclose(got.select(TOTAL).row(0), CONSTANT_ITEM["total"], atol=TOL)
    np.testing.assert_allclose(
        got.select("ci_low", "ci_high").row(0), CONSTANT_ITEM["feldt"], atol=TOL
    )
    items = item_statistics(data)
    np.testing.assert_allclose(items["r_drop"].to_numpy()[:4], CONSTANT_ITEM["r_drop"], atol=TOL)
    assert items["flag"].to_list() == [None, None, None, None, "no variance"]
    assert items["r_drop"][4] is None


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("shift", [0.1, 1000.1, 12345.678])
def test_float_answers_far_from_zero_keep_a_constant_item_at_sd_zero(shift):
    """Sums of squares of float answers leave a rounding residue (even a negative one).

    The moments are raw sums, so answers far from zero lose digits to cancellation: about
    1e-9 relative at 1000 and 1e-7 at 12345 (integer answers are summed exactly).
    """
    data = REV.select("r1", "r3", "r4", "r6").with_columns(const=pl.lit(0.7)).cast(pl.Float64)
    items = item_statistics(data.select(pl.all() + shift))
    assert items["sd"][4] == 0.0 and items["flag"][4] == "no variance"
    np.testing.assert_allclose(items["sd"][:4], item_statistics(data)["sd"][:4], rtol=1e-6)
    with pytest.warns(ItemsLeftOutWarning, match="'const'"):
        total = cronbach_alpha(data.select(pl.all() + shift))
        unshifted = cronbach_alpha(data)
    np.testing.assert_allclose(total["sd"][0], unshifted["sd"][0], rtol=1e-6)


def test_an_item_nobody_answered_is_flagged_no_answers():
    data = REV.select("r1", "r3").with_columns(empty=pl.lit(None, pl.Int64), const=pl.lit(1))
    assert item_statistics(data)["flag"].to_list()[2:] == ["no answers", "no variance"]


@pytest.mark.filterwarnings("error")
def test_no_warning_when_every_item_is_kept():
    assert cronbach_alpha(REV)["n_items"][0] == REV.width


@pytest.mark.filterwarnings("error")
def test_an_item_nobody_answered_has_a_null_mean_and_no_warning():
    data = (
        REV.select("r1", "r3", "r4").cast(pl.Float64).with_columns(empty=pl.lit(None, pl.Float64))
    )
    items = item_statistics(data)
    assert items["n"][3] == 0 and items["mean"][3] is None
    np.testing.assert_allclose(items["mean"][:3], data.select("r1", "r3", "r4").mean().row(0))
    with pytest.warns(ItemsLeftOutWarning, match="'r1' \\(no answers\\).*'empty' \\(no answers\\)"):
        assert cronbach_alpha(data.head(0))["alpha"][0] is None


def test_duhachek_interval_uses_psychs_ase():
    # R: a <- alpha(y, keys = c("r2", "r5")); a$total$raw_alpha + c(-1, 1) * qnorm(.975) * a$total$ase
    # (print.psych rounds the quantile to 1.96: 0.731602247193854, 0.817062477857588)
    got = cronbach_alpha(REV, reverse=["r2", "r5"], ci_method="duhachek")
    np.testing.assert_allclose(
        got.select("ci_low", "ci_high").row(0), [0.73160303236975, 0.817061692681691], atol=TOL
    )
    # a$total$raw_alpha + c(-1, 1) * qnorm(.95) * a$total$ase
    got = cronbach_alpha(REV, reverse=["r2", "r5"], ci_method="duhachek", ci=0.9)
    np.testing.assert_allclose(
        got.select("ci_low", "ci_high").row(0), [0.738472778248335, 0.810191946803107], atol=TOL
    )


# pingouin 0.7.0 rounds the interval to 3 decimals; its listwise interval counts the rows
# before deletion, as cronbach_alpha does (psych's n.obs).
PINGOUIN = [
    # pg.cronbach_alpha(data=x)                       x = phq_like.csv items (pandas)
    ({"items": ITEMS}, PHQ, 0.6334166117823017, [0.577, 0.685]),
    # pg.cronbach_alpha(data=x, ci=0.9)
    ({"items": ITEMS, "ci": 0.9}, PHQ, 0.6334166117823017, [0.587, 0.677]),
    # pg.cronbach_alpha(data=x.dropna(), nan_policy="listwise")
    (
        {"items": ITEMS, "missing": "listwise"},
        PHQ.drop_nulls(ITEMS),
        0.6513787919531545,
        [0.579, 0.715],
    ),
    # pg.cronbach_alpha(data=x, nan_policy="listwise")
    ({"items": ITEMS, "missing": "listwise"}, PHQ, 0.6513787919531545, [0.598, 0.700]),
    # pg.cronbach_alpha(data=b[["N1", ..., "N5"]])     b = bfi.csv
    ({"items": ["N1", "N2", "N3", "N4", "N5"]}, BFI, 0.8139629499174752, [0.803, 0.825]),
    # pg.cronbach_alpha(data=b[["N1", ..., "N5"]], nan_policy="listwise")
    (
        {"items": ["N1", "N2", "N3", "N4", "N5"], "missing": "listwise"},
        BFI,
        0.813303143161439,
        [0.802, 0.824],
    ),
]


@pytest.mark.parametrize(("kwargs", "data", "alpha", "interval"), PINGOUIN)
def test_alpha_equals_pingouin(kwargs, data, alpha, interval):
    got = cronbach_alpha(data, **kwargs)
    assert got["alpha"][0] == pytest.approx(alpha, abs=1e-12)
    assert np.round(got.select("ci_low", "ci_high").row(0), 3).tolist() == interval


def test_input_forms_agree():
    pandas_frame = PHQ.to_pandas()
    as_float = PHQ.select(ITEMS).to_numpy().astype(float)  # nulls become NaN
    as_int8 = PHQ.select(ITEMS).fill_null(-1).to_numpy().astype(np.int8)
    want = cronbach_alpha(PHQ, ITEMS)
    for data, items in [(pandas_frame, ITEMS), (as_float, None), (as_int8, None)]:
        got = cronbach_alpha(data, items)
        np.testing.assert_allclose(got.select(TOTAL).row(0), want.select(TOTAL).row(0), atol=1e-12)


def test_floor_ceiling_and_missing_rate_by_hand():
    got = item_statistics(PHQ, ITEMS)
    column = PHQ["phq9_3"]
    answered = column.drop_nulls()
    row = got.filter(pl.col("item") == "phq9_3").row(0, named=True)
    assert row["missing_rate"] == pytest.approx(column.null_count() / PHQ.height)
    assert row["floor"] == pytest.approx((answered == 0).mean())
    assert row["ceiling"] == pytest.approx((answered == 3).mean())


# psych 2.2.9: a <- alpha(items); a$response.freq[, "0"] and a$response.freq[, "3"]
PHQ_FLOOR = [0.55118110236220474, 0.55291005291005291, 0.46296296296296297,
             0.39787798408488062, 0.64171122994652408, 0.6763157894736842,
             0.65053763440860213, 0.75067024128686322, 0.91374663072776285]  # fmt: skip
PHQ_CEILING = [0.07874015748031496, 0.066137566137566134, 0.10317460317460317,
               0.14854111405835543, 0.037433155080213901, 0.044736842105263158,
               0.043010752688172046, 0.021447721179624665, 0.0080862533692722376]  # fmt: skip


@pytest.mark.parametrize("form", ["pandas float64", "numpy float", "polars Float32"])
def test_floor_and_ceiling_of_whole_float_answers_equal_psych(form):
    import pandas as pd

    data = {
        # read_csv gives float64 to every column with an empty cell
        "pandas float64": lambda: pd.read_csv(DATA / "phq_like.csv")[ITEMS],
        "numpy float": lambda: PHQ.select(ITEMS).to_numpy().astype(float),
        "polars Float32": lambda: PHQ.select(ITEMS).cast(pl.Float32),
    }[form]()
    got = item_statistics(data)
    np.testing.assert_allclose(got["floor"].to_numpy(), PHQ_FLOOR, rtol=0, atol=1e-15)
    np.testing.assert_allclose(got["ceiling"].to_numpy(), PHQ_CEILING, rtol=0, atol=1e-15)
    with_range = item_statistics(data, instrument="phq9" if form != "numpy float" else None)
    np.testing.assert_allclose(with_range["ceiling"].to_numpy(), PHQ_CEILING, atol=1e-15)


def test_fractional_answers_keep_floor_and_ceiling_of_whole_ends():
    x = np.array([[0.0, 1.0], [0.5, 2.0], [3.0, 3.0], [0.0, np.nan]])
    got = item_statistics(x, item_range=(0, 3))
    assert got["floor"].to_list() == [0.5, 0.0]
    assert got["ceiling"].to_list() == [0.25, 1 / 3]
    # an observed range with a fractional end has no answer level there
    assert item_statistics(x + 0.25)["floor"].to_list() == [None, None]


def test_an_integer_columns_missing_code_stays_missing_beside_float_columns():
    frame = pl.DataFrame(
        {"a": [0, 1, 2, -1, 3], "b": [0.5, 1.0, 2.0, 2.5, 3.0], "c": [0, 1, 2, 2, 3]}
    )
    got = item_statistics(frame)
    assert got["n"].to_list() == [4, 5, 5]


def test_instrument_path_uses_its_items_and_keys():
    frame = PHQ.select(ITEMS)
    got = cronbach_alpha(frame, instrument="phq9")
    assert got["scale"].to_list() == ["total"]
    assert got["alpha"][0] == pytest.approx(PHQ_PAIRWISE["total"][0], abs=TOL)
    items = item_statistics(frame, instrument="phq9")
    assert items["item"].to_list() == ITEMS
    # the instrument's range (0..3) fixes floor and ceiling
    answered9 = PHQ["phq9_9"].drop_nulls()
    assert items["ceiling"][8] == pytest.approx((answered9 == 3).mean())


def test_negative_item_total_correlation_is_flagged():
    items = item_statistics(REV)  # r2 and r5 are reverse keyed but not reversed here
    flags = dict(zip(items["item"], items["flag"], strict=True))
    assert flags["r2"] == "check reverse key"
    assert flags["r5"] == "check reverse key"
    assert flags["r1"] is None


def test_bad_input_is_named():
    seven = PHQ.with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(7).otherwise(pl.col("phq9_2")).alias("phq9_2")
    )
    message = r"Item 'phq9_2' of instrument 'phq9' must be an answer in \[0, 3\]\. Got 7 in 1 row \(first: row 3\)"
    with pytest.raises(PsychometricInputError, match=message):
        cronbach_alpha(seven, instrument="phq9")
    with pytest.raises(
        PsychometricInputError,
        match=r"Item 'phq9_2' must be an answer in \[0, 3\]\. Got -4 in 378 rows \(first: row 1\)",
    ):
        cronbach_alpha(PHQ.with_columns(pl.col("phq9_2") - 5), ITEMS, item_range=(0, 3))
    with pytest.raises(PsychometricInputError, match="not in the data"):
        cronbach_alpha(PHQ, ["phq9_1", "nope"])
    with pytest.raises(PsychometricInputError, match="not numbers"):
        cronbach_alpha(PHQ, ["school_id", "phq9_1"])
    with pytest.raises(PsychometricInputError, match="missing must be"):
        cronbach_alpha(PHQ, ITEMS, missing="everything")
    with pytest.raises(PsychometricInputError, match="at least two items"):
        cronbach_alpha(PHQ, ["phq9_1"])
    with pytest.raises(PsychometricInputError, match="no scale 'nope'"):
        cronbach_alpha(PHQ, instrument="phq9", scale="nope")


def test_drop_smc_by_schur_complement_equals_direct_pseudo_inverse():
    from screening.scoring.reliability import _smc_all, smc

    rng = np.random.default_rng(8)
    a = rng.normal(size=(6, 40, 5))
    a[5, :, 4] = a[5, :, 3]  # a duplicated item: singular correlation matrix
    c = np.einsum("gni,gnj->gij", a, a)
    d = np.sqrt(np.einsum("gii->gi", c))
    r = c / d[:, :, None] / d[:, None, :]
    whole, drop = _smc_all(r)
    np.testing.assert_allclose(whole, smc(r), atol=1e-10)
    # psych gives 0 for twins too: smc(cor(a)) with a[, 5] <- a[, 4] prints
    # "In smc, smcs < 0 were set to .0" and V4 = V5 = 0
    assert whole[5, 3] == 0.0 and whole[5, 4] == 0.0
    for i in range(5):
        keep = [j for j in range(5) if j != i]
        np.testing.assert_allclose(drop[:, i], smc(r[:, keep][:, :, keep]), atol=1e-8)
