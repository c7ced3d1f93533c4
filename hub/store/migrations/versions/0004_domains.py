"""Pharmacy and imaging domains: medication events, imaging orders and reports, documents, DICOM.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "dicom_instances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sop_instance_uid", sa.Text(), nullable=False),
        sa.Column("sop_class_uid", sa.Text(), nullable=False),
        sa.Column("study_uid", sa.Text(), nullable=False),
        sa.Column("series_uid", sa.Text(), nullable=False),
        sa.Column("accession", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("modality", sa.Text(), nullable=False),
        sa.Column("study_date", sa.Text(), nullable=False),
        sa.Column("study_description", sa.Text(), nullable=False),
        sa.Column("series_description", sa.Text(), nullable=False),
        sa.Column("charset", sa.Text(), nullable=False),
        sa.Column("report_text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_dicom_instances_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dicom_instances")),
        sa.UniqueConstraint("sop_instance_uid", name=op.f("uq_dicom_instances_sop_instance_uid")),
    )
    op.create_index(op.f("ix_dicom_instances_accession"), "dicom_instances", ["accession"], unique=False)
    op.create_index(op.f("ix_dicom_instances_patient_id"), "dicom_instances", ["patient_id"], unique=False)
    op.create_index(op.f("ix_dicom_instances_study_uid"), "dicom_instances", ["study_uid"], unique=False)
    op.create_table(
        "imaging_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("order_control", sa.Text(), nullable=False),
        sa.Column("order_status", sa.Text(), nullable=False),
        sa.Column("placer_number", sa.Text(), nullable=False),
        sa.Column("filler_number", sa.Text(), nullable=False),
        sa.Column("accession", sa.Text(), nullable=False),
        sa.Column("requested_procedure_id", sa.Text(), nullable=False),
        sa.Column("study_uid", sa.Text(), nullable=False),
        sa.Column("scheduled_step_id", sa.Text(), nullable=False),
        sa.Column("modality", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("code_text", sa.Text(), nullable=False),
        sa.Column("code_system", sa.Text(), nullable=False),
        sa.Column("ordered_at", sa.Text(), nullable=False),
        sa.Column("ordering_provider", sa.Text(), nullable=False),
        sa.Column("section", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_imaging_orders_message_id_messages")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_imaging_orders_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imaging_orders")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_imaging_orders_key")),
    )
    op.create_index(op.f("ix_imaging_orders_accession"), "imaging_orders", ["accession"], unique=False)
    op.create_index(op.f("ix_imaging_orders_message_id"), "imaging_orders", ["message_id"], unique=False)
    op.create_index(op.f("ix_imaging_orders_patient_id"), "imaging_orders", ["patient_id"], unique=False)
    op.create_index(op.f("ix_imaging_orders_study_uid"), "imaging_orders", ["study_uid"], unique=False)
    op.create_table(
        "imaging_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("placer_number", sa.Text(), nullable=False),
        sa.Column("filler_number", sa.Text(), nullable=False),
        sa.Column("accession", sa.Text(), nullable=False),
        sa.Column("study_uid", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("code_text", sa.Text(), nullable=False),
        sa.Column("code_system", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("observed_at", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("section", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_imaging_reports_message_id_messages")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_imaging_reports_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imaging_reports")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_imaging_reports_key")),
    )
    op.create_index(op.f("ix_imaging_reports_accession"), "imaging_reports", ["accession"], unique=False)
    op.create_index(op.f("ix_imaging_reports_message_id"), "imaging_reports", ["message_id"], unique=False)
    op.create_index(op.f("ix_imaging_reports_patient_id"), "imaging_reports", ["patient_id"], unique=False)
    op.create_index(op.f("ix_imaging_reports_study_uid"), "imaging_reports", ["study_uid"], unique=False)
    op.create_table(
        "medication_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("order_control", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("drug_code", sa.Text(), nullable=False),
        sa.Column("drug_system", sa.Text(), nullable=False),
        sa.Column("drug_name", sa.Text(), nullable=False),
        sa.Column("drug_recognized", sa.Boolean(), nullable=False),
        sa.Column("strength", sa.Text(), nullable=False),
        sa.Column("form", sa.Text(), nullable=False),
        sa.Column("route", sa.Text(), nullable=False),
        sa.Column("dose", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Text(), nullable=False),
        sa.Column("refills", sa.Text(), nullable=False),
        sa.Column("prescriber", sa.Text(), nullable=False),
        sa.Column("pharmacy", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.Text(), nullable=False),
        sa.Column("prescription_number", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_medication_events_message_id_messages")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_medication_events_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_events")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_medication_events_key")),
    )
    op.create_index(op.f("ix_medication_events_message_id"), "medication_events", ["message_id"], unique=False)
    op.create_index(op.f("ix_medication_events_patient_id"), "medication_events", ["patient_id"], unique=False)
    op.create_table(
        "imaging_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=False),
        sa.Column("encoding", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["imaging_reports.id"], name=op.f("fk_imaging_documents_report_id_imaging_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imaging_documents")),
    )
    op.create_index(op.f("ix_imaging_documents_report_id"), "imaging_documents", ["report_id"], unique=False)
    op.add_column("lab_orders", sa.Column("section", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("lab_orders") as batch:
        batch.drop_column("section")
    for table in ("imaging_documents", "medication_events", "imaging_reports", "imaging_orders", "dicom_instances"):
        op.drop_table(table)
