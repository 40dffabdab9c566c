"""bench/recommend.py's simulation: planted topics, readers whose held-out papers are theirs, honest metrics."""

from __future__ import annotations

from bench.corpus import seed_papers
from bench.recommend import Reader, make_corpus, make_readers, quality
from bench.topics_corpus import TOPICS, generate_topic_papers


def test_topics_are_planted_in_about_half_the_synthetic_papers_and_the_seed_papers_stay_as_they_are():
    pairs = list(generate_topic_papers(600, seed=2))
    seeds = {p.arxiv_id: p for p in seed_papers()}

    planted = [(p, t) for p, t in pairs if t is not None]
    assert 0.35 < len(planted) / len(pairs) < 0.65
    for paper, topic in planted[:50]:
        text = f"{paper.title} {paper.abstract}"
        assert any(term in text for term in TOPICS[topic].terms), paper.title
    assert all(p == seeds[p.arxiv_id] for p, _ in pairs if p.arxiv_id in seeds)
    assert pairs == list(generate_topic_papers(600, seed=2))


def test_held_out_papers_are_unread_papers_of_the_readers_interests_in_the_window():
    corpus = make_corpus(1500, seed=0)
    readers, team_topics = make_readers(corpus, teams=3, seed=0)

    assert len(readers) == 60
    for reader in readers:
        assert set(reader.interests) <= set(team_topics[reader.team])
        assert not reader.relevant & set(reader.reads)
        assert all(corpus.window[i] and corpus.topic_of[i] in reader.interests for i in reader.relevant)


def test_ndcg_and_recall_are_one_for_a_perfect_list_and_zero_for_a_useless_one():
    reader = Reader(team=0, user_id="U1", interests=[0], reads=[], relevant={1, 2, 3})

    assert quality({"U1": [3, 1, 2, 7, 8]}, [reader]) == (1.0, 1.0)
    assert quality({"U1": [7, 8, 9]}, [reader]) == (0.0, 0.0)
    ndcg, recall = quality({"U1": [7, 1, 8]}, [reader])
    assert 0 < ndcg < 1 and recall == 1 / 3
