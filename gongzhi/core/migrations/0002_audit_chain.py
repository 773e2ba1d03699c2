"""The audit trail becomes a keyed-hash chain: existing entries are sealed in id order, the head row created."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def seal_existing(apps, schema_editor):
    from gongzhi.core.audit import GENESIS, entry_hash
    AuditEvent = apps.get_model("core", "AuditEvent")
    seq, prev = 0, GENESIS
    for event in AuditEvent.objects.order_by("id"):
        seq += 1
        fields = {"seq": seq, "at": event.at, "user_id": event.user_id, "username": event.username,
                  "action": event.action, "outcome": event.outcome, "object_type": event.object_type,
                  "object_id": event.object_id, "detail": event.detail, "client_ip": event.client_ip}
        event.seq, event.prev_hash, event.hash = seq, prev, entry_hash(prev, fields)
        event.save(update_fields=["seq", "prev_hash", "hash"])
        prev = event.hash
    apps.get_model("core", "AuditHead").objects.create(pk=1, seq=seq, hash=prev)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditArchive',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('file', models.CharField(max_length=200, verbose_name='file')),
                ('first_seq', models.PositiveBigIntegerField(verbose_name='first entry')),
                ('last_seq', models.PositiveBigIntegerField(unique=True, verbose_name='last entry')),
                ('anchor_hash', models.CharField(max_length=64)),
                ('last_hash', models.CharField(max_length=64)),
                ('count', models.PositiveIntegerField(verbose_name='entries')),
                ('sha256', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='archived at')),
                ('mac', models.CharField(max_length=64)),
            ],
            options={
                'verbose_name': 'audit archive',
                'verbose_name_plural': 'audit archives',
                'ordering': ['last_seq'],
            },
        ),
        migrations.CreateModel(
            name='AuditHead',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.PositiveBigIntegerField(default=0)),
                ('hash', models.CharField(max_length=64)),
            ],
        ),
        migrations.AlterModelOptions(
            name='auditevent',
            options={'ordering': ['-seq'], 'verbose_name': 'audit event', 'verbose_name_plural': 'audit events'},
        ),
        migrations.AddField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='outcome',
            field=models.CharField(choices=[('success', 'Success'), ('failure', 'Failure'), ('denied', 'Denied')], default='success', max_length=10, verbose_name='outcome'),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='prev_hash',
            field=models.CharField(default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='seq',
            field=models.PositiveBigIntegerField(editable=False, null=True, unique=True, verbose_name='sequence'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('view_personal', 'Viewed full personal record'), ('export', 'Export'), ('import', 'Import'), ('login', 'Login'), ('login_failed', 'Failed login'), ('locked_out', 'Locked out'), ('logout', 'Logout'), ('denied', 'Permission denied'), ('change', 'Change'), ('role_change', 'Role change'), ('anonymise', 'Anonymised personal record'), ('backup', 'Backup'), ('restore', 'Restore'), ('archive', 'Audit archive')], max_length=20, verbose_name='action'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='at',
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False, verbose_name='time'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='object_id',
            field=models.CharField(blank=True, max_length=200, verbose_name='object id'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='object_type',
            field=models.CharField(blank=True, max_length=100, verbose_name='object type'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='user',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='user'),
        ),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='auditevent',
            name='seq',
            field=models.PositiveBigIntegerField(editable=False, unique=True, verbose_name='sequence'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='prev_hash',
            field=models.CharField(editable=False, max_length=64),
        ),
    ]
