"""Groups distinct template keys (with line counts) into clusters that share one `<*>` template.

How (and why this and not TF-IDF + DBSCAN or Drain): keys are masked first (lipservice_sdk.signature), so the work
is over distinct keys, not lines. Then, in the spirit of Brain (Yu et al., 2023):

1. keys are grouped by token count;
2. within a group every (position, token) gets its line frequency, and each key is rooted at the largest set of its
   tokens that share one frequency: the template's constant words occur exactly as often as the template itself
   (tokens no other key has at their position are left out when the key has others: they would root it alone);
3. keys with the same root are split recursively on the lowest-cardinality column that still looks constant; a column
   is a parameter when all its values differ only in placeholders, when every value holds a placeholder, when it
   carries paths, or when it has `variable_threshold` or more distinct values;
4. clusters of different token counts are merged when their tokens align (LCS) so that every unaligned run is mostly
   placeholders or punctuation, or repeats its neighbour (optional "(<NUM>)" parts); runs of one repeated masked
   value ("blk_<NUM> blk_<NUM> ...") are collapsed before all this, so id lists of any length are one template.

Why not the seed's TF-IDF + DBSCAN: measured on the 8 Loghub-2k dev systems over the same masked keys (cosine
DBSCAN, min_samples=1), it reached a mean GA of 0.63 at eps 0.1 (0.63 at 0.3, 0.55 at 0.5; Linux 0.19, OpenSSH 0.33,
Proxifier 0.01) and took ~3x longer; Drain3 with one generic configuration gets 0.77 and cannot join templates whose
token count varies (Proxifier 0.02). This approach, with one configuration for all systems, gets mean GA 0.98 /
FGA 0.94 (every system at or above Drain's per-system tuned GA) and clusters 2,000 keys in a few milliseconds.
Figures and the command that produces them: bench/RESULTS.md, Mining section.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

WILDCARD = "<*>"
_PLACEHOLDER = re.compile(r"<[A-Z*]+>")
_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9]")
_NOT_WORD = re.compile(r"[/\\\"'=]")


@dataclass(frozen=True)
class ClusterConfig:
    variable_threshold: int = 4
    path_threshold: int = 2
    max_gap: int = 3
    max_merge_tokens: int = 64
    merge_over_split: bool = True
    max_paired_values: int = 16
    long_tail_values: int = 3
    long_tail_share: float = 0.95


@dataclass(frozen=True)
class Cluster:
    keys: tuple[str, ...]
    template: str


def cluster_keys(counts: Mapping[str, int], config: ClusterConfig | None = None) -> list[Cluster]:
    """Cluster distinct keys weighted by their line counts; deterministic for a given input."""
    cfg = config or ClusterConfig()
    # Lists of masked values ("blk_<NUM> blk_<NUM> ...") vary in length only: cluster their collapsed form.
    forms: dict[str, list[str]] = defaultdict(list)
    for key in sorted(counts):
        forms[_collapse_repeats(key)].append(key)
    form_counts = {form: sum(counts[k] for k in keys) for form, keys in forms.items()}
    by_length: dict[int, list[str]] = defaultdict(list)
    for form in sorted(form_counts):
        by_length[form.count(" ") + 1].append(form)
    groups: list[list[str]] = []
    for length in sorted(by_length):
        groups.extend(_cluster_same_length(by_length[length], length, form_counts, cfg))
    groups, templates = _merge_over_split(groups, cfg)
    merged = _merge_across_lengths(templates, cfg)
    clusters = []
    for members in merged:
        keys = tuple(sorted(k for i in members for form in groups[i] for k in forms[form]))
        if len(members) == 1 and len(keys) == len(groups[members[0]]) and all(k in form_counts for k in keys):
            # One group whose keys are its forms: template_of_keys would give its column template again.
            template = " ".join(templates[members[0]])
        else:
            template = template_of_keys(keys)
        clusters.append(Cluster(keys=keys, template=template))
    clusters.sort(key=lambda c: c.keys[0])
    return clusters


def _collapse_repeats(key: str) -> str:
    if "<" not in key:
        return key  # only tokens holding a placeholder collapse
    tokens = key.split(" ")
    out = [tokens[0]]
    for token in tokens[1:]:
        if token != out[-1] or "<" not in token:
            out.append(token)
    return " ".join(out)


def template_of_keys(keys: Sequence[str]) -> str:
    """The template covering keys: per token count a column template, then aligned across token counts."""
    by_length: dict[int, list[list[str]]] = defaultdict(list)
    for key in keys:
        tokens = key.split(" ")
        by_length[len(tokens)].append(tokens)
    ordered = sorted(by_length.items(), key=lambda item: (-len(item[1]), item[0]))
    template = token_template(ordered[0][1])
    for _, rows in ordered[1:]:
        template = align_templates(template, token_template(rows))
    return " ".join(template)


def token_template(rows: Sequence[Sequence[str]]) -> list[str]:
    """Column-wise template of equally long token rows: constant columns stay, others become (prefix)<*>(suffix)."""
    out = []
    for column in zip(*rows, strict=False):
        values = set(column)
        out.append(column[0] if len(values) == 1 else _wildcard_token(values))
    return out


def align_templates(a: Sequence[str], b: Sequence[str]) -> list[str]:
    """Merge two token templates of any lengths: aligned equal tokens stay, everything else becomes one `<*>`."""
    out: list[str] = []
    previous = (-1, -1)
    for i, j in [*_lcs_pairs(a, b, exact=True), (len(a), len(b))]:
        if i - previous[0] > 1 or j - previous[1] > 1:
            _append_wildcard(out)
        if i < len(a):
            if a[i] == b[j]:
                out.append(a[i])
            else:
                _append_wildcard(out)
        previous = (i, j)
    return out


def literal_part(token: str) -> str:
    return _PLACEHOLDER.sub("", token)


def is_parameter_like(token: str) -> bool:
    """A token whose non-placeholder characters hold no letter: a masked value, a wildcard or punctuation."""
    return _LETTER.search(literal_part(token)) is None


def _append_wildcard(out: list[str]) -> None:
    if not out or out[-1] != WILDCARD:
        out.append(WILDCARD)


def _wildcard_token(values: set[str]) -> str:
    prefix = _common_prefix(values).split("<")[0]
    suffix = _common_suffix(values, len(prefix)).split(">")[-1]
    # Cut back to punctuation so that "root"/"robert" give <*>, not ro<*>.
    while prefix and prefix[-1].isalnum():
        prefix = prefix[:-1]
    while suffix and suffix[0].isalnum():
        suffix = suffix[1:]
    if "<" in suffix or ">" in prefix:
        return WILDCARD
    return prefix + WILDCARD + suffix


def _common_prefix(values: Collection[str]) -> str:
    low, high = min(values), max(values)
    size = 0
    for x, y in zip(low, high, strict=False):
        if x != y:
            break
        size += 1
    return low[:size]


def _common_suffix(values: Collection[str], start: int) -> str:
    """The longest common suffix of the values' tails from `start` (in any order)."""
    suffix = next(iter(values))[start:]
    for value in values:
        while suffix and not value.endswith(suffix, start):
            suffix = suffix[1:]
        if not suffix:
            break
    return suffix


def _column_is_parameter(values: Counter[str], cfg: ClusterConfig) -> bool:
    if _one_literal(values) or all(_PLACEHOLDER.search(v) for v in values):
        return True
    # A placeholder holds no slash, so a value's literal part holds one exactly when the value does.
    if any("/" in v or "\\" in v for v in values):
        return len(values) >= cfg.path_threshold
    return len(values) >= cfg.variable_threshold


def _one_literal(values: Iterable[str]) -> bool:
    """Do all values have one literal part? Stops at the second one (a column of unseen words has thousands)."""
    first: str | None = None
    for value in values:
        literal = _PLACEHOLDER.sub("", value) if "<" in value else value
        if first is None:
            first = literal
        elif literal != first:
            return False
    return True


def _word_column(values: Counter[str], cfg: ClusterConfig) -> bool:
    """A column of a few plain words (no placeholder, path, quote or key=value): a parameter only by its count.
    Quoted text and key=value values are data even when two of their words change together (q="red shoes")."""
    return len(values) <= cfg.max_paired_values and not any(
        _NOT_WORD.search(v) or _PLACEHOLDER.search(v) for v in values
    )


def _long_tail(weighted: list[tuple[str, int]], cfg: ClusterConfig) -> bool:
    """One value carries almost every line and the others are a tail of rare ones (root and a few other user
    names, one host and a few others): the shape of a parameter's values, not of a template's alternatives."""
    lines: Counter[str] = Counter()
    for value, count in weighted:
        lines[value] += count
    if len(lines) < cfg.long_tail_values:
        return False
    return lines.most_common(1)[0][1] >= cfg.long_tail_share * sum(lines.values())


def _paired(position: int, columns: dict[int, list[str]]) -> bool:
    """Does another word column vary in step with this one (of two columns with comparable numbers of values, the
    one with more values decides the other)? Two words that change together ("from NEW to UNASSIGNED",
    "mapred.X ... mapreduce.Y") are the template's own words, however many pairs there are; a lone varying word
    (a user name) is not."""
    mine = columns[position]
    count = len(set(mine))
    for other, values in columns.items():
        if other == position:
            continue
        theirs = len(set(values))
        most = max(count, theirs)
        if 2 * min(count, theirs) > most and len(set(zip(mine, values, strict=True))) == most:
            return True
    return False


def _cluster_same_length(
    keys: list[str], length: int, counts: Mapping[str, int], cfg: ClusterConfig
) -> list[list[str]]:
    tokens = {key: key.split(" ") for key in keys}
    # The line frequency of each token at each position; keys seen once (most, in a stream of unseen values) are
    # counted a column at a time.
    frequency: list[Counter[str]] = [Counter() for _ in range(length)]
    once = zip(*(tokens[k] for k in keys if counts[k] == 1), strict=True)
    for column, column_values in zip(frequency, once, strict=False):
        column.update(column_values)
    for key in keys:
        weight = counts[key]
        if weight != 1:
            for column, token in zip(frequency, tokens[key], strict=True):
                column[token] += weight
    roots: dict[tuple[tuple[int, str], ...], list[str]] = defaultdict(list)
    for key in keys:
        frequencies = [column[t] for column, t in zip(frequency, tokens[key], strict=True)]
        tally = Counter(frequencies)
        own = counts[key]
        if len(tally) > 1 and own in tally:
            # Tokens that only this key has at their position root nothing but the key itself: a line made mostly
            # of values the masking cannot see (a key=value dump) is rooted at the words it shares instead.
            del tally[own]
        best = max(tally.items(), key=lambda item: (item[1], item[0]))[0]
        root = tuple((p, t) for p, t in enumerate(tokens[key]) if frequencies[p] == best)
        roots[root].append(key)
    out: list[list[str]] = []
    for root, members in roots.items():
        fixed = {p for p, _ in root}
        stack = [members]
        while stack:
            group = stack.pop()
            best_column: tuple[int, int] | None = None
            columns = list(zip(*(tokens[k] for k in group), strict=True))
            counted = {p: Counter(columns[p]) for p in range(length) if p not in fixed}
            words = {
                p: list(columns[p])
                for p, values in counted.items()
                if len(values) >= cfg.variable_threshold and _word_column(values, cfg)
            }
            for position, values in counted.items():
                if len(values) == 1:
                    continue
                if _column_is_parameter(values, cfg) and not (position in words and _paired(position, words)):
                    continue
                if _long_tail(list(zip(columns[position], (counts[k] for k in group), strict=True)), cfg):
                    continue
                if best_column is None or (len(values), position) < best_column:
                    best_column = (len(values), position)
            if best_column is None:
                out.append(group)
                continue
            parts: dict[str, list[str]] = defaultdict(list)
            for key in group:
                parts[tokens[key][best_column[1]]].append(key)
            stack.extend(parts.values())
    return out


def _variable_looking(token: str) -> bool:
    """A token that names a value rather than a kind of line: it holds a digit, a placeholder or a wildcard."""
    return _DIGIT.search(token) is not None or ("<" in token and _PLACEHOLDER.search(token) is not None)


def _merge_over_split(groups: list[list[str]], cfg: ClusterConfig) -> tuple[list[list[str]], list[list[str]]]:
    """Join same-length groups that one template would cover: the per-length split works on column statistics, so
    a value column with few distinct values (U01/U11, bglio78/bglio617, <NUM>/<HEX>) can split one kind of line.

    Two rules, neither tied to a data set: groups whose templates agree once every variable-looking token is
    blanked are one group (they differ only in values), and a group whose template another group's template covers
    (equal tokens, a `<*>` where they differ) joins it, as a key that template matches would be assigned to it
    anyway. Both need a word in common that is not a value, so two lines made only of values never merge.
    """
    templates = [token_template([k.split(" ") for k in group]) for group in groups]
    if not cfg.merge_over_split or len(groups) < 2:
        return groups, templates
    parent = list(range(len(groups)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    shapes: dict[tuple[str, ...], int] = {}
    for i, tpl in enumerate(templates):
        shape = tuple("\x00" if _variable_looking(t) else t for t in tpl)
        if all(t == "\x00" for t in shape):
            continue
        first = shapes.setdefault(shape, i)
        if first != i:
            union(first, i)
    # Cover: project every template onto the literal positions of each template that has wildcards.
    by_open: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    for i, tpl in enumerate(templates):
        fixed = tuple(p for p, t in enumerate(tpl) if WILDCARD not in t)
        if len(fixed) < len(tpl) and any(not is_parameter_like(tpl[p]) for p in fixed):
            by_open[(len(tpl), fixed)].append(i)
    if by_open:
        by_length: dict[int, list[int]] = defaultdict(list)
        for i, tpl in enumerate(templates):
            by_length[len(tpl)].append(i)
        for (length, fixed), owners in by_open.items():
            wanted: dict[tuple[str, ...], int] = {}
            for i in owners:
                wanted.setdefault(tuple(templates[i][p] for p in fixed), i)
            for j in by_length[length]:
                owner = wanted.get(tuple(templates[j][p] for p in fixed))
                if owner is not None and owner != j:
                    union(owner, j)
    merged: dict[int, list[int]] = defaultdict(list)
    for i in range(len(groups)):
        merged[find(i)].append(i)
    out_groups: list[list[str]] = []
    out_templates: list[list[str]] = []
    for members in merged.values():
        if len(members) == 1:  # the group as it was, and its template
            out_groups.append(groups[members[0]])
            out_templates.append(templates[members[0]])
            continue
        joined = [key for i in members for key in groups[i]]
        out_groups.append(joined)
        out_templates.append(token_template([k.split(" ") for k in joined]))
    return out_groups, out_templates


def _tokens_compatible(a: str, b: str) -> bool:
    return a in (b, WILDCARD) or b == WILDCARD


def _lcs_pairs(a: Sequence[str], b: Sequence[str], exact: bool = False) -> list[tuple[int, int]]:
    """Aligned index pairs of a longest common subsequence. With exact equality, equal prefixes and suffixes are
    matched directly (always optimal then), so long id lists that differ only in length cost linear time."""
    same = str.__eq__ if exact else _tokens_compatible
    start = end = 0
    if exact:
        while start < len(a) and start < len(b) and a[start] == b[start]:
            start += 1
        while end < len(a) - start and end < len(b) - start and a[-1 - end] == b[-1 - end]:
            end += 1
    middle_a, middle_b = a[start : len(a) - end], b[start : len(b) - end]
    n, m = len(middle_a), len(middle_b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = table[i], table[i + 1]
        for j in range(m - 1, -1, -1):
            row[j] = below[j + 1] + 1 if same(middle_a[i], middle_b[j]) else max(below[j], row[j + 1])
    pairs = [(k, k) for k in range(start)]
    i = j = 0
    while i < n and j < m:
        if same(middle_a[i], middle_b[j]) and table[i][j] == table[i + 1][j + 1] + 1:
            pairs.append((start + i, start + j))
            i += 1
            j += 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    pairs.extend((len(a) - end + k, len(b) - end + k) for k in range(end))
    return pairs


def mergeable(a: Sequence[str], b: Sequence[str], max_gap: int) -> bool:
    """Templates of different lengths are one pattern when the unaligned runs are short and mostly parameters."""
    pairs = _lcs_pairs(a, b)
    anchors = sum(1 for i, j in pairs if a[i] == b[j] and not is_parameter_like(a[i]))
    if anchors < 1 or len(pairs) * 2 < max(len(a), len(b)):
        return False
    previous = (-1, -1)
    for i, j in [*pairs, (len(a), len(b))]:
        gap_a = a[previous[0] + 1 : i]
        gap_b = b[previous[1] + 1 : j]
        if gap_a or gap_b:
            if len(gap_a) > max_gap or len(gap_b) > max_gap:
                return False
            neighbours = {a[previous[0]] if previous[0] >= 0 else None, a[i] if i < len(a) else None}
            gap = [*gap_a, *gap_b]
            repeats = all(t in neighbours for t in gap)
            if not repeats and sum(1 for t in gap if is_parameter_like(t)) * 2 < len(gap):
                return False
        previous = (i, j)
    return True


def _merge_across_lengths(templates: list[list[str]], cfg: ClusterConfig) -> list[list[int]]:
    parent = list(range(len(templates)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    words = [{t for t in tpl if not is_parameter_like(t)} for tpl in templates]
    document_frequency: Counter[str] = Counter(w for ws in words for w in ws)
    index: dict[str, list[int]] = defaultdict(list)
    for i, ws in enumerate(words):
        for w in ws:
            index[w].append(i)
    for i, tpl in enumerate(templates):
        if not words[i] or len(tpl) > cfg.max_merge_tokens:
            continue
        # Merging needs at least half of the anchor words in common, so one of the rarest half must be shared.
        rare = sorted(words[i], key=lambda w: (document_frequency[w], w))[: len(words[i]) // 2 + 1]
        candidates = {j for w in rare for j in index[w] if j > i}
        for j in sorted(candidates):
            other = templates[j]
            if len(other) == len(tpl) or abs(len(other) - len(tpl)) > 2 * cfg.max_gap:
                continue
            if len(other) > cfg.max_merge_tokens or find(i) == find(j):
                continue
            if mergeable(tpl, other, cfg.max_gap):
                parent[find(i)] = find(j)
    merged: dict[int, list[int]] = defaultdict(list)
    for i in range(len(templates)):
        merged[find(i)].append(i)
    return list(merged.values())
