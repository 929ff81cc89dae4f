"""Join two tagged PDFs from WeasyPrint into one, keeping it PDF/UA: pages, tags and outline.

A personalised handout is rendered as two documents (clearleaf/personal.py): its first page(s),
which hold the patient's details, and the rest, which is the same for every patient and cached.
This puts them back together as if WeasyPrint had made one document:

- the pages of the second follow the first;
- the tag tree: WeasyPrint's tree is one /Document holding one element per page, so the second
  document's elements follow the first's under the first's /Document, and the /ParentTree keys of
  the second (its pages' /StructParents and its annotations' /StructParent) move up past the first's;
- the outline (bookmarks) is built again from both documents' entries and their heading levels,
  since the second document's headings belong under the first's title;
- the catalog (/Lang, /MarkInfo, /ViewerPreferences), the document info and the XMP metadata
  are the first document's: both come from the same HTML head.

The result is deterministic: the same two inputs give the same bytes.
"""

from __future__ import annotations

import io

import pikepdf

from .errors import RenderError


def join(first: bytes, first_levels: tuple, rest: bytes, rest_levels: tuple) -> bytes:
    """Return first's pages followed by rest's, as one tagged PDF.

    first_levels and rest_levels are the heading level of each outline entry of each PDF, in
    order (pdf.Rendered.bookmarks).
    """
    with pikepdf.open(io.BytesIO(first)) as a, pikepdf.open(io.BytesIO(rest)) as b:
        tree_a, tree_b = a.Root.StructTreeRoot, b.Root.StructTreeRoot
        nums_a, nums_b = _number_tree(tree_a.ParentTree), _number_tree(tree_b.ParentTree)
        offset = max(nums_a, default=-1) + 1
        entries_a, entries_b = _outline_entries(a), _outline_entries(b)
        if (len(entries_a), len(entries_b)) != (len(first_levels), len(rest_levels)):
            raise RenderError(f"cannot join the handout's halves: {len(entries_a)} + {len(entries_b)} outline "
                              f"entries but {len(first_levels)} + {len(rest_levels)} heading levels")

        start = len(a.pages)
        a.pages.extend(b.pages)  # copies each page and what it uses; later copies reuse them
        for page in a.pages[start:]:
            if "/StructParents" in page.obj:
                page.obj.StructParents = int(page.obj.StructParents) + offset
            for annot in page.obj.get("/Annots", []):
                if "/StructParent" in annot:
                    annot.StructParent = int(annot.StructParent) + offset

        document_a, document_b = _document(tree_a), _document(tree_b)
        for kid in list(document_b.K):
            copied = a.copy_foreign(kid)
            copied.P = document_a
            document_a.K.append(copied)

        merged = dict(nums_a)
        for key, value in nums_b.items():
            merged[key + offset] = _copy(a, value)
        nums = pikepdf.Array()
        for key in sorted(merged):
            nums.append(key)
            nums.append(merged[key])
        tree_a.ParentTree = a.make_indirect(pikepdf.Dictionary(Nums=nums))
        tree_a.ParentTreeNextKey = max(merged, default=-1) + 1

        # After the pages were copied, so each destination's page is the copy already made.
        entries = entries_a + [(title, _copy(a, dest)) for title, dest in entries_b]
        _write_outline(a, entries, tuple(first_levels) + tuple(rest_levels))

        out = io.BytesIO()
        a.save(out, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
        return out.getvalue()


def _document(tree) -> pikepdf.Dictionary:
    """The /Document element at the top of a WeasyPrint tag tree."""
    kids = tree.K if isinstance(tree.K, pikepdf.Array) else [tree.K]
    documents = [k for k in kids if k.get("/S") == pikepdf.Name.Document]
    if len(documents) != 1:
        raise RenderError("cannot join the handout's halves: a half's tag tree has no single /Document")
    return documents[0]


def _number_tree(node, found: dict | None = None) -> dict:
    """Flatten a PDF number tree into {key: value}."""
    found = {} if found is None else found
    if "/Nums" in node:
        nums = node.Nums
        for i in range(0, len(nums), 2):
            found[int(nums[i])] = nums[i + 1]
    for kid in node.get("/Kids", []):
        _number_tree(kid, found)
    return found


def _copy(pdf: pikepdf.Pdf, value):
    """Copy a value from the other PDF: indirect objects through copy_foreign, arrays item by item."""
    if isinstance(value, pikepdf.Object) and value.is_indirect:
        return pdf.copy_foreign(value)
    if isinstance(value, pikepdf.Array):
        return pikepdf.Array([_copy(pdf, v) for v in value])
    return value


def _outline_entries(pdf: pikepdf.Pdf) -> list[tuple]:
    """Each outline entry's (title, destination), in reading (pre-)order."""
    entries = []

    def walk(node):
        item = node.get("/First")
        while item is not None:
            entries.append((item.Title, item.Dest))
            walk(item)
            item = item.get("/Next")

    if "/Outlines" in pdf.Root:
        walk(pdf.Root.Outlines)
    return entries


def _write_outline(pdf: pikepdf.Pdf, entries: list[tuple], levels: tuple) -> None:
    """Replace the outline with entries nested by level, all open, as WeasyPrint writes them."""
    root = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Outlines))
    stack = [(0, root)]
    for (title, dest), level in zip(entries, levels):
        while stack[-1][0] >= level:
            stack.pop()
        parent = stack[-1][1]
        item = pdf.make_indirect(pikepdf.Dictionary(Title=title, Dest=dest, Parent=parent))
        if "/First" in parent:
            parent.Last.Next = item
            item.Prev = parent.Last
        else:
            parent.First = item
        parent.Last = item
        stack.append((level, item))

    def count(node) -> int:
        total, item = 0, node.get("/First")
        while item is not None:
            below = count(item)
            item.Count = below
            total += 1 + below
            item = item.get("/Next")
        return total

    root.Count = count(root)
    if entries:
        pdf.Root.Outlines = root
    elif "/Outlines" in pdf.Root:
        del pdf.Root.Outlines
