"""bench/corpus.py's synthetic arXiv with research topics planted in it, for the recommendation benchmark.

bench/corpus.py draws words at random, so its papers have no subjects a reader could prefer. Here a share of
them get one: 24 topics in 8 areas, each topic a list of the real terms its papers use (`kv cache`,
`eviction`, `prefill`, ...), each area a list its topics share (`inference`, `latency`, ...). A topic paper
keeps its Zipf noise and gets, spread through it, 2-4 topic terms in the title and 6-20 in the abstract,
drawn with a skew (the first terms of a list are the commonest), 2-6 area terms, and, for 30 % of them,
3-8 terms of a second topic. Two papers of one topic therefore share some terms but seldom all, and
neighbouring topics share their area's words: a reader of KV-cache papers should not simply get every
efficiency paper.

Everything is deterministic for a given (n, seed).
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass

from bench.corpus import generate_papers, seed_papers
from db.records import PaperRecord

TOPIC_SHARE = 0.5  # of the synthetic papers; the rest (and the 87 seed papers) belong to no topic
SECOND_TOPIC_SHARE = 0.3
TITLE_TERMS = (1, 3)
ABSTRACT_TERMS = (3, 10)
AREA_TERMS = (1, 4)
SECOND_TERMS = (2, 6)
SIBLING_SHARE = 0.3  # of a topic paper's terms come from the other topics of its area
STRAY_TERMS = 1.0  # mean number of terms of random topics in any synthetic paper (a passing mention)

# area -> (area terms, {topic: topic terms}). Terms are what such papers say, most characteristic first.
AREAS: dict[str, tuple[str, dict[str, str]]] = {
    "efficient inference": (
        "inference latency memory throughput efficient serving speedup gpu deployment overhead",
        {
            "kv cache": "kv cache, eviction, key-value cache, prefill, long context, cache compression, decoding, "
                        "attention heads, token eviction, cache budget, offloading, paged attention, reuse, "
                        "sliding window, heavy hitters, quantized cache",
            "token pruning": "token pruning, visual tokens, token merging, redundant tokens, vision-language model, "
                             "token reduction, attention scores, image tokens, vlm, pruning ratio, early layers, "
                             "training-free, token importance, video tokens",
            "quantization": "quantization, low-bit, int4, weight quantization, activation outliers, post-training "
                            "quantization, calibration, mixed precision, fp8, rounding, quantized weights, "
                            "per-channel scaling, binarization",
        },
    ),
    "generative vision": (
        "image generation synthesis visual fidelity pixel rendering samples generative",
        {
            "diffusion": "diffusion model, denoising, score matching, sampler, noise schedule, classifier-free "
                         "guidance, latent diffusion, text-to-image, sampling steps, reverse process",
            "video generation": "video generation, temporal consistency, frames, motion, video diffusion, "
                                "frame interpolation, long videos, camera control, spatiotemporal",
            "gaussian splatting": "gaussian splatting, novel view synthesis, radiance field, nerf, 3d scene, "
                                  "multi-view, point cloud, rasterization, depth, reconstruction",
        },
    ),
    "language reasoning": (
        "language model llm prompting benchmark instruction text reasoning",
        {
            "chain of thought": "chain-of-thought, reasoning steps, math problems, self-consistency, "
                                "test-time compute, verifier, process reward, step-by-step, rationale",
            "retrieval augmented": "retrieval-augmented generation, retriever, passages, dense retrieval, "
                                   "question answering, knowledge base, reranking, grounding, hallucination",
            "alignment": "alignment, preference optimization, rlhf, reward model, human feedback, dpo, "
                         "helpfulness, harmlessness, instruction tuning, safety alignment",
        },
    ),
    "control and robots": (
        "policy agent environment control reward trajectories simulation",
        {
            "robot manipulation": "robot manipulation, grasping, dexterous hand, end effector, imitation learning, "
                                  "demonstrations, sim-to-real, tactile, pick and place",
            "multi-agent": "multi-agent, cooperative agents, decentralized, communication protocol, marl, "
                           "game theory, emergent behavior, coordination, joint policy",
            "offline rl": "offline reinforcement learning, behavior policy, conservative q-learning, dataset "
                          "shift, value function, distributional shift, q-function, batch rl",
        },
    ),
    "graphs": (
        "graph nodes edges structure relational network",
        {
            "graph neural networks": "graph neural network, message passing, node classification, "
                                     "over-smoothing, graph convolution, neighborhood aggregation, gnn",
            "knowledge graphs": "knowledge graph, entities, relations, link prediction, triples, "
                                "knowledge graph embedding, ontology, entity alignment",
            "recommendation": "recommender system, collaborative filtering, user preferences, click-through "
                              "rate, items, sequential recommendation, implicit feedback, cold start",
        },
    ),
    "optimization theory": (
        "convergence bound theorem analysis optimization rate proof",
        {
            "convex optimization": "convex optimization, gradient descent, step size, stochastic gradient, "
                                   "convergence rate, smoothness, lipschitz, proximal, momentum",
            "generalization": "generalization bound, sample complexity, overparameterization, pac-bayes, "
                              "rademacher complexity, implicit bias, double descent, benign overfitting",
            "federated learning": "federated learning, clients, server aggregation, non-iid, communication "
                                  "rounds, local updates, heterogeneous clients, fedavg",
        },
    ),
    "trust and privacy": (
        "attack defense privacy robust security threat",
        {
            "differential privacy": "differential privacy, privacy budget, noise mechanism, dp-sgd, epsilon, "
                                    "private training, membership inference, gradient clipping",
            "adversarial robustness": "adversarial examples, perturbation, adversarial training, certified "
                                      "robustness, attack success rate, robust accuracy, l-infinity",
            "unlearning": "machine unlearning, forget set, retain set, unlearning, data removal, "
                          "sparse autoencoders, concept erasure, influence",
        },
    ),
    "science and health": (
        "clinical patients biological physical scientific domain measurements",
        {
            "protein structure": "protein structure, amino acid, folding, binding affinity, molecule, "
                                 "drug discovery, docking, sequence design",
            "medical imaging": "medical imaging, segmentation, mri, ct scans, radiology, lesion, tumor, "
                               "histopathology, diagnosis",
            "weather forecasting": "weather forecasting, climate, precipitation, atmospheric, reanalysis, "
                                   "global forecast, extreme events, spatiotemporal",
        },
    ),
}


@dataclass(frozen=True)
class Topic:
    name: str
    area: str
    terms: tuple[str, ...]
    area_terms: tuple[str, ...]

    @property
    def keywords(self) -> tuple[str, ...]:
        """What a channel about this topic would put in its digest keywords: its first two terms."""
        return self.terms[:2]


TOPICS: tuple[Topic, ...] = tuple(
    Topic(name=name, area=area, terms=tuple(t.strip() for t in terms.split(",")), area_terms=tuple(area_words.split()))
    for area, (area_words, topics) in AREAS.items()
    for name, terms in topics.items()
)


def _skewed(rng: random.Random, terms: tuple[str, ...], k: int) -> list[str]:
    weights = list(itertools.accumulate(1.0 / (rank**0.8) for rank in range(1, len(terms) + 1)))
    return rng.choices(terms, cum_weights=weights, k=k)


def _splice(rng: random.Random, text: str, inserted: list[str]) -> str:
    words = text.rstrip(".").split()
    for term in inserted:
        words.insert(rng.randint(0, len(words)), term)
    return " ".join(words)


def _topic_terms(rng: random.Random, topic: Topic, k: int) -> list[str]:
    siblings = [t for t in TOPICS if t.area == topic.area and t is not topic]
    return [_skewed(rng, (rng.choice(siblings) if rng.random() < SIBLING_SHARE else topic).terms, 1)[0]
            for _ in range(k)]


def _stray_terms(rng: random.Random) -> list[str]:
    count = sum(1 for _ in range(8) if rng.random() < STRAY_TERMS / 8)
    return [rng.choice(rng.choice(TOPICS).terms) for _ in range(count)]


def plant(rng: random.Random, paper: PaperRecord, topic: Topic | None, second: Topic | None) -> PaperRecord:
    title_terms = _topic_terms(rng, topic, rng.randint(*TITLE_TERMS)) if topic else []
    abstract_terms = _stray_terms(rng)
    if topic is not None:
        abstract_terms += _topic_terms(rng, topic, rng.randint(*ABSTRACT_TERMS))
        abstract_terms += rng.choices(topic.area_terms, k=rng.randint(*AREA_TERMS))
    if second is not None:
        abstract_terms += _skewed(rng, second.terms, rng.randint(*SECOND_TERMS))
    title = _splice(rng, paper.title.lower(), title_terms)
    return dataclasses.replace(
        paper,
        title=title[:1].upper() + title[1:],
        abstract=_splice(rng, paper.abstract.lower(), abstract_terms).capitalize() + ".",
    )


def generate_topic_papers(n: int, seed: int = 0) -> Iterator[tuple[PaperRecord, int | None]]:
    """(paper, index of its topic in TOPICS or None), oldest first, for bench/corpus.py's n papers."""
    rng = random.Random(f"topics-{seed}")
    seed_ids = {p.arxiv_id for p in seed_papers()}  # real papers stay as they are
    for paper in generate_papers(n, seed):
        if paper.arxiv_id in seed_ids:
            yield paper, None
            continue
        if rng.random() >= TOPIC_SHARE:
            yield plant(rng, paper, None, None), None
            continue
        index = rng.randrange(len(TOPICS))
        second = rng.choice(TOPICS) if rng.random() < SECOND_TOPIC_SHARE else None
        yield plant(rng, paper, TOPICS[index], second if second is not TOPICS[index] else None), index
