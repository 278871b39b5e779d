"""The Teaching sets tab: view, reorder, rename, delete, export and import saved questions.

Every change ends by showing the sets again through one `SetsView`, which returns a dict keyed
by component, so a handler never has to know the order of the components it updates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ketaqa import teaching
from ketaqa.apps.notice import NOTICE
from ketaqa.apps.ui import render
from ketaqa.apps.ui.guard import FOLDERS
from ketaqa.apps.ui.widgets import PRIVATE, html_box
from ketaqa.errors import InputError, KetaqaError

EXPORT_CHOICES = (
    ("Student handout (Markdown)", "student"),
    ("Answer key (Markdown)", "markdown"),
    ("Printable student handout (HTML)", "html"),
    ("Printable answer key (HTML)", "html-key"),
    ("CSV", "csv"),
    ("JSON (re-importable)", "json"),
    ("Evaluation items (JSONL)", "eval"),
)
NO_SETS = "<p>No teaching sets yet: ask a question and save passages.</p>"


@dataclass(frozen=True)
class SetsTab:
    set_select: gr.Dropdown
    refresh_button: gr.Button
    set_view: gr.HTML
    status: gr.HTML
    item_select: gr.Dropdown
    up_button: gr.Button
    down_button: gr.Button
    delete_item_button: gr.Button
    edit_question: gr.Textbox
    edit_note: gr.Textbox
    edit_button: gr.Button
    new_name: gr.Textbox
    rename_button: gr.Button
    confirm_delete: gr.Checkbox
    delete_set_button: gr.Button
    export_kind: gr.Radio
    export_button: gr.Button
    export_out: gr.File
    export_status: gr.HTML
    import_file: gr.File
    import_button: gr.Button


def build() -> SetsTab:
    """The tab's components, laid out; call inside `gr.Tab`."""
    with gr.Row():
        set_select = gr.Dropdown(choices=[], label="Set", scale=3, elem_id="set-select")
        refresh_button = gr.Button("Refresh", scale=1)
    set_view = html_box(elem_id="set-view")
    status = html_box(elem_id="sets-status")
    with gr.Row():
        item_select = gr.Dropdown(choices=[], label="Item", scale=3, elem_id="item-select")
        up_button = gr.Button("Move up", scale=1)
        down_button = gr.Button("Move down", scale=1)
        delete_item_button = gr.Button("Delete item", scale=1, variant="stop")
    with gr.Group(elem_id="item-edit"):
        edit_question = gr.Textbox(label="Question of the chosen item", elem_id="edit-question")
        edit_note = gr.Textbox(label="Note of the chosen item", lines=2, elem_id="edit-note")
        edit_button = gr.Button("Save question and note", elem_id="edit-item")
    with gr.Row():
        new_name = gr.Textbox(label="New name", scale=3)
        rename_button = gr.Button("Rename set", scale=1)
    with gr.Row():
        confirm_delete = gr.Checkbox(label="Yes, delete this set", value=False)
        delete_set_button = gr.Button("Delete set", variant="stop")
    with gr.Row():
        export_kind = gr.Radio(
            list(EXPORT_CHOICES), value="markdown", label="Export as", elem_id="export-kind"
        )
        export_button = gr.Button("Export", variant="primary", elem_id="export")
    export_out = gr.File(label="Download", interactive=False, elem_id="export-file")
    export_status = html_box(elem_id="export-status")
    with gr.Row():
        import_file = gr.File(
            label="Import a set (JSON exported from ketaqa)",
            file_types=[".json"],
            type="filepath",
            elem_id="import-file",
        )
        import_button = gr.Button("Import", elem_id="import")
    return SetsTab(
        set_select=set_select,
        refresh_button=refresh_button,
        set_view=set_view,
        status=status,
        item_select=item_select,
        up_button=up_button,
        down_button=down_button,
        delete_item_button=delete_item_button,
        edit_question=edit_question,
        edit_note=edit_note,
        edit_button=edit_button,
        new_name=new_name,
        rename_button=rename_button,
        confirm_delete=confirm_delete,
        delete_set_button=delete_set_button,
        export_kind=export_kind,
        export_button=export_button,
        export_out=export_out,
        export_status=export_status,
        import_file=import_file,
        import_button=import_button,
    )


@dataclass(frozen=True)
class SetsView:
    """What every change to the teaching sets refreshes, and the store it reads.

    `save_target` is the Ask tab's set dropdown; `status` is where the message goes (the Ask tab
    uses its own, see `dataclasses.replace`)."""

    store: teaching.SetStore
    status: gr.HTML
    save_target: gr.Dropdown
    set_select: gr.Dropdown
    set_view: gr.HTML
    item_select: gr.Dropdown

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.status, self.save_target, self.set_select, self.set_view, self.item_select]

    def show(
        self, selected: str | None, message: str, ok: bool = True, item: int | None = None
    ) -> dict:
        """The sets again, `selected` (else the first) shown, with `message` as the status;
        a salvage notice or the read-only state is added to it."""
        try:
            names = [s.name for s in self.store.list_sets()]
            if notice := self.store.pop_notice():
                message, ok = f"{message} {notice}".strip(), False
            elif self.store.read_only and not message:
                message = "The data folder is read-only: sets can be viewed and exported only."
        except (KetaqaError, OSError) as exc:
            names, message, ok = [], f"{message} {_line(exc)}".strip(), False
        selected = selected if selected in names else (names[0] if names else None)
        view, items = NO_SETS, []
        if selected:
            try:
                ts = self.store.get_set(selected)
                view = render.set_html(ts)
                items = [(f"{i.position}. {i.question[:80]}", i.id) for i in ts.items]
            except (KetaqaError, OSError) as exc:
                view, message, ok = "", f"{message} {_line(exc)}".strip(), False
        item_ids = [v for _, v in items]
        return {
            self.status: render.status_html(message, ok) if message else "",
            self.save_target: gr.update(choices=names),
            self.set_select: gr.update(choices=names, value=selected),
            self.set_view: view,
            self.item_select: gr.update(choices=items, value=item if item in item_ids else None),
        }


@dataclass(frozen=True)
class SetsEvents:
    """The tab's handlers: thin calls into the teaching store, then the sets shown again."""

    tab: SetsTab
    view: SetsView
    source: str = ""  # the statement as handouts name it: title, college, date

    def load_sets(self) -> dict:
        return self.view.show(None, "")

    def show_set(self, name: str) -> dict:
        return self.view.show(name, "")

    def rename_ui(self, name: str, new_name: str) -> dict:
        try:
            self.view.store.rename_set(name, new_name)
        except KetaqaError as exc:
            return self.view.show(name, f"Not renamed: {exc}", False)
        new_name = teaching.clean_name(new_name)
        return self.view.show(new_name, f"Renamed “{name}” to “{new_name}”.")

    def delete_set_ui(self, name: str, confirmed: bool) -> dict:
        if not confirmed:
            return self.view.show(name, "Tick “Yes, delete this set” first.", False)
        try:
            self.view.store.delete_set(name)
        except KetaqaError as exc:
            return self.view.show(name, f"Not deleted: {exc}", False)
        return self.view.show(None, f"Deleted “{name}”.")

    def move_up(self, name: str, item_id: int | None) -> dict:
        return self._move(name, item_id, -1)

    def move_down(self, name: str, item_id: int | None) -> dict:
        return self._move(name, item_id, +1)

    def _move(self, name: str, item_id: int | None, offset: int) -> dict:
        try:
            if item_id is None:
                raise InputError("choose an item first")
            self.view.store.move_item(int(item_id), offset)
        except KetaqaError as exc:
            return self.view.show(name, f"Not moved: {exc}", False, item_id)
        return self.view.show(name, "Moved.", True, item_id)

    def pick_item(self, name: str, item_id: int | None) -> dict:
        """The chosen item's question and note, ready to edit."""
        item = self._item(name, item_id)
        return {
            self.tab.edit_question: item.question if item else "",
            self.tab.edit_note: item.note if item else "",
        }

    def _item(self, name: str, item_id: int | None) -> teaching.Item | None:
        try:
            ts = self.view.store.get_set(name)
        except KetaqaError:
            return None
        return next((i for i in ts.items if item_id is not None and i.id == int(item_id)), None)

    def edit_item_ui(self, name: str, item_id: int | None, question: str, note: str) -> dict:
        try:
            if item_id is None:
                raise InputError("choose an item first")
            self.view.store.update_item(int(item_id), note=note or "", question=question)
        except KetaqaError as exc:
            return self.view.show(name, f"Not changed: {exc}", False, item_id)
        return self.view.show(name, "Question and note saved.", True, item_id)

    def delete_item_ui(self, name: str, item_id: int | None) -> dict:
        try:
            if item_id is None:
                raise InputError("choose an item first")
            self.view.store.delete_item(int(item_id))
        except KetaqaError as exc:
            return self.view.show(name, f"Not deleted: {exc}", False)
        return self.view.show(name, "Item deleted.")

    def export_ui(self, name: str, kind: str) -> dict:
        try:
            ts = self.view.store.get_set(name)
            out_dir = FOLDERS.new("export-")
            path = teaching.write_export(ts, kind, out_dir, notice=NOTICE, source=self.source)
        except (KetaqaError, OSError) as exc:
            return {
                self.tab.export_out: None,
                self.tab.export_status: render.status_html(f"Not exported: {_line(exc)}", False),
            }
        return {
            self.tab.export_out: str(path),
            self.tab.export_status: render.status_html(f"Exported “{name}” as {path.name}."),
        }

    def import_ui(self, path: str | None, selected: str | None) -> dict:
        try:
            if not path:
                raise InputError("choose a JSON file exported from ketaqa first")
            ts = self.view.store.import_json(Path(path).read_bytes())
        except (KetaqaError, OSError) as exc:
            shown = self.view.show(selected, f"Not imported, nothing changed: {_line(exc)}", False)
        else:
            shown = self.view.show(ts.name, f"Imported “{ts.name}” ({len(ts.items)} item(s)).")
        return {self.tab.import_file: None, **shown}


def _line(exc: BaseException) -> str:
    from ketaqa.apps.checks import describe_os_error

    return describe_os_error(exc) if isinstance(exc, OSError) else str(exc)


def wire(app: gr.Blocks, tab: SetsTab, view: SetsView, source: str = "") -> None:
    """Connect the tab's events; the sets are shown when the page loads. `source` is the
    statement's citation, named on every handout."""
    events = SetsEvents(tab, view, source)
    shown = view.outputs
    app.load(events.load_sets, None, shown, **PRIVATE)
    tab.set_select.input(events.show_set, [tab.set_select], shown, **PRIVATE)
    tab.refresh_button.click(events.show_set, [tab.set_select], shown, **PRIVATE)
    tab.rename_button.click(events.rename_ui, [tab.set_select, tab.new_name], shown, **PRIVATE)
    tab.delete_set_button.click(
        events.delete_set_ui, [tab.set_select, tab.confirm_delete], shown, **PRIVATE
    )
    selected_item = [tab.set_select, tab.item_select]
    tab.up_button.click(events.move_up, selected_item, shown, **PRIVATE)
    tab.down_button.click(events.move_down, selected_item, shown, **PRIVATE)
    tab.delete_item_button.click(events.delete_item_ui, selected_item, shown, **PRIVATE)
    edit = [tab.edit_question, tab.edit_note]
    tab.item_select.change(events.pick_item, selected_item, edit, **PRIVATE)
    tab.edit_button.click(events.edit_item_ui, [*selected_item, *edit], shown, **PRIVATE)
    tab.export_button.click(
        events.export_ui,
        [tab.set_select, tab.export_kind],
        [tab.export_out, tab.export_status],
        **PRIVATE,
    )
    tab.import_button.click(
        events.import_ui, [tab.import_file, tab.set_select], [tab.import_file, *shown], **PRIVATE
    )
