"""Admin for deliberation; read mostly — state changes go through services."""

from django.contrib import admin

from .models import Ballot, Comment, Convention, ConventionVersion, Meeting, MeetingDocument, Resolution, Topic, Vote


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("title", "place", "status", "threshold")
    list_filter = ("status",)
    raw_id_fields = ("place", "proposer", "merged_into")


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "place", "starts_at")
    raw_id_fields = ("place", "convened_by", "minutes_by")


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("title", "place", "status", "passed")
    readonly_fields = ("rules", "electorate", "result")
    raw_id_fields = ("place", "topic", "meeting", "convention_version", "opened_by", "closed_by")


@admin.register(Ballot)
class BallotAdmin(admin.ModelAdmin):
    list_display = ("vote", "voter_key", "channel", "cast_at")
    readonly_fields = ("choice",)
    raw_id_fields = ("vote", "household", "person", "cast_by")


@admin.register(Resolution)
class ResolutionAdmin(admin.ModelAdmin):
    list_display = ("title", "place", "created_at")
    raw_id_fields = ("place", "vote", "created_by")


class VersionInline(admin.TabularInline):
    model = ConventionVersion
    fields = ("number", "status", "silent_majority", "silent_majority_clause", "motion_percent", "motion_clause")
    readonly_fields = fields
    extra = 0


@admin.register(Convention)
class ConventionAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "place")
    raw_id_fields = ("place",)
    inlines = [VersionInline]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("topic", "author", "created_at")
    raw_id_fields = ("topic", "author")


@admin.register(MeetingDocument)
class MeetingDocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "meeting", "created_at")
    raw_id_fields = ("meeting", "uploaded_by")
