"""Clustering rules that hold on any log: values never split a kind of line, words that change together do."""

from __future__ import annotations

from patterns.engine.clustering import ClusterConfig, cluster_keys


def _groups(counts: dict[str, int], config: ClusterConfig | None = None) -> list[set[str]]:
    return [set(c.keys) for c in cluster_keys(counts, config)]


def test_keys_that_differ_only_in_values_with_digits_are_one_group() -> None:
    counts = {
        "Node card check: U01 node in slot <NUM> do not match": 4,
        "Node card check: U11 node in slot <NUM> do not match": 5,
        "Lustre mount FAILED : bglio78 : block_id : location": 1,
        "Lustre mount FAILED : bglio617 : block_id : location": 1,
    }
    assert len(_groups(counts)) == 2


def test_a_key_covered_by_another_groups_template_joins_it() -> None:
    counts = {f"Failed none for invalid user {name} from <IP> port <NUM> ssh2": 1 for name in "abcde"}
    counts["Failed none for invalid user <NUM> from <IP> port <NUM> ssh2"] = 3
    assert len(_groups(counts)) == 1


def test_one_dominant_value_with_a_tail_of_rare_ones_is_a_parameter() -> None:
    counts = {"Failed password for root from <IP> port <NUM> ssh2": 368}
    counts.update({f"Failed password for {u} from <IP> port <NUM> ssh2": 3 for u in ("uucp", "ftp", "git", "mysql")})
    assert len(_groups(counts, ClusterConfig(variable_threshold=8))) == 1
    off = ClusterConfig(variable_threshold=8, long_tail_share=1.01)
    assert len(_groups(counts, off)) == 5


def test_words_that_change_together_split_however_many_pairs() -> None:
    pairs = [("NEW", "UNASSIGNED"), ("UNASSIGNED", "ASSIGNED"), ("ASSIGNED", "RUNNING"), ("RUNNING", "SUCCEEDED"),
             ("RUNNING", "FAILED"), ("SCHEDULED", "KILLED")]  # fmt: skip
    counts = {f"<*> TaskAttempt Transitioned from {a} to {b}": 10 for a, b in pairs}
    assert len(_groups(counts)) == len(pairs)


def test_a_lone_word_column_with_many_values_is_a_parameter() -> None:
    counts = {f"session opened for user {u} by (uid=<NUM>)": 10 for u in ("cyrus", "news", "test", "root", "adm")}
    assert len(_groups(counts)) == 1


def test_quoted_text_is_data_even_when_its_words_change_together() -> None:
    queries = ("red shoes", "wireless mouse", "usb-c cable", "desk lamp", "garden hose")
    counts = {f'search q="{q}" hits=<NUM> took=<NUM>': 100 for q in queries}
    assert len(_groups(counts)) == 1


def test_keys_made_of_their_own_words_join_on_the_words_they_share() -> None:
    words = ["alpha", "bravo", "carol", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"]
    dumps = {
        "request context dump: " + " ".join(f"{words[(i * 5 + j) % 12]}={words[(i + 2 * j) % 12]}" for j in range(4)): 1
        for i in range(6)
    }
    assert _groups({**dumps, "user login ok for alpha": 3}) == [set(dumps), {"user login ok for alpha"}]
